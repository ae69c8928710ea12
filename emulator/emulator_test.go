package emulator_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/idvflow/idvflow/emulator"
)

// A slow answer its caller abandoned is logged where the call arrived,
// before the retry that followed it, however late it ends: the fault tests
// read "the permanent answer was the last call" from this log.
func TestAnswersInCallOrder(t *testing.T) {
	e := emulator.New(emulator.Config{})
	e.Handle("GET /things/{id}", func(w http.ResponseWriter, _ *http.Request, _ string) {
		emulator.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "no such thing"})
	})
	srv := httptest.NewServer(e.Handler())
	e.FailNext("t-1", emulator.Fault{Delay: 500 * time.Millisecond})

	get := func(timeout time.Duration) (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/things/t-1", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if _, err := get(100 * time.Millisecond); err == nil {
		t.Fatal("the slow answer came within the caller's timeout")
	}
	if code, err := get(5 * time.Second); err != nil || code != http.StatusNotFound {
		t.Fatalf("retry: %d %v", code, err)
	}
	srv.Close() // waits for the slow answer to end
	if got, want := e.Answers("t-1"), []int{0, http.StatusNotFound}; !slices.Equal(got, want) {
		t.Fatalf("answers %v, want %v", got, want)
	}
	if e.Calls("t-1") != 2 {
		t.Fatalf("%d calls, want 2", e.Calls("t-1"))
	}
}

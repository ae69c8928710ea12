package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities/userstore"
	_ "github.com/idvflow/idvflow/activities/userstore/drivers"
	"github.com/idvflow/idvflow/operator"
)

// The list says of each quarantined webhook whether its body was kept: one
// kept without its body is listed with body_kept false.
func TestQuarantineListSaysWhenABodyWasNotKept(t *testing.T) {
	st := tempStore(t)
	if err := st.Quarantine(context.Background(), userstore.Quarantined{ID: "nobody", Provider: "veriff", Reason: "r", LastAt: time.Now()}, userstore.QuarantineLimits{}); err != nil {
		t.Fatal(err)
	}
	h := New(nil, nil, "tok", slog.New(slog.DiscardHandler)).WithOps(Ops{Operator: &operator.Operator{}, Store: st}).Handler()
	req := httptest.NewRequest(http.MethodGet, "/v1/quarantine", nil)
	req.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var out struct{ Quarantined []QuarantineView }
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	if len(out.Quarantined) != 1 || out.Quarantined[0].BodyKept {
		t.Fatalf("list: %s; want body_kept false for a webhook kept without its body", w.Body)
	}
}

// tempStore is a user store of the test's own (SQLite).
func tempStore(t *testing.T) *userstore.Store {
	t.Helper()
	st, err := userstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

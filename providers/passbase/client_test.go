package passbase

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/workflows"
)

// A numeric user id above 2^53 names the same user whether it comes in a
// webhook or from the identity API (it once came back from the API as
// 12345678901234567168, through a float64).
func TestNumericUserIDAbove2To53(t *testing.T) {
	const id = "12345678901234567890"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"id":"k","status":"approved","metadata":{"customer_user_id":` + id + `}}`))
	}))
	defer api.Close()
	c := NewClient(api.URL, "key", httpapi.NewClient(httpapi.Options{}))
	ident, err := c.GetIdentity(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := ident.UserID(); got != id {
		t.Fatalf("identity API user id %q, want %q", got, id)
	}
	ev, err := (&Webhooks{}).Parse([]byte(`{"event":"VERIFICATION_REVIEWED","key":"0b3e6a2a-0000-4000-8000-000000000001",
		"status":"approved","created":1767225600,"updated":1767225600,"additional_attributes":{"customer_user_id":` + id + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.UserID != id || ev.Kind != workflows.KindDecision {
		t.Fatalf("webhook user id %q (kind %s), want %q", ev.UserID, ev.Kind, id)
	}
}

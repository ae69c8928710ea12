package veriff_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"

	"github.com/idvflow/idvflow/providers/veriff"
)

// R5: a decision the API answers without decisionTime is ordered by its
// acceptanceTime, as its webhook is; it used to be taken as untimed, and a
// run after close then ordered it by the poll's own clock.
func TestPollReadsAcceptanceTime(t *testing.T) {
	accepted := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"success","verification":{"id":"s","status":"approved","code":9001,
			"decisionTime":null,"acceptanceTime":"` + accepted.Format(time.RFC3339Nano) + `","vendorData":"u1"}}`))
	}))
	defer api.Close()
	cfg := &veriff.Config{BaseURL: api.URL, APIKey: "key", SharedSecrets: []string{"secret"}}
	r, err := cfg.API(httpapi.NewClient(httpapi.Options{})).Poll(context.Background(), activities.SessionRef{Provider: veriff.Name, SessionID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Found || !r.DecidedAt.Equal(accepted) {
		t.Fatalf("poll answered %+v, want approved decided at %s", r, accepted)
	}
}

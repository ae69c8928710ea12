package admin

// Issue 20 second audit (regression; a 503 before the fix): what a re-drive answers for a quarantined webhook that can
// never be taken, and whether its audit record is written.

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/providers/veriff"
)

func audit20bRedrive(t *testing.T, st *userstore.Store, opener Opener, id string) *httptest.ResponseRecorder {
	t.Helper()
	h := New(nil, nil, "tok", slog.New(slog.DiscardHandler)).
		WithOps(Ops{Operator: &operator.Operator{Temporal: &capture{}, TaskQueue: "q", Log: slog.New(slog.DiscardHandler)}, Store: st,
			Providers: providers.Registry{veriff.Provider{}}}).WithOpener(opener).Handler()
	req := httptest.NewRequest(http.MethodPost, "/v1/quarantine/"+id+"/redrive", nil)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// A webhook quarantined without its body (the receiver had no payload
// keys), or sealed under a key since removed from the ring, can never be
// re-driven. The re-drive answers 503 (Temporal-style "try again later")
// each time, as if it might clear by itself.
func TestAudit20bRedriveThatCanNeverWorkIsNot503(t *testing.T) {
	ctx := context.Background()
	st := tempStore(t)
	old, _ := payloadcodec.ParseKeys(payloadcodec.NewKey("old"))
	now, _ := payloadcodec.ParseKeys(payloadcodec.NewKey("new"))
	body := []byte(`{"eventType":"fullauto","sessionId":"s-3","attemptId":"a","vendorData":"u-1","data":{"verification":{"decision":"approved","decisionScore":0.9}}}`)
	sealedOld, _ := old.Seal(body)
	for _, q := range []userstore.Quarantined{
		{ID: "nobody", Provider: "veriff", SessionID: "s-3", Reason: "r", LastAt: time.Now()},
		{ID: "oldkey", Provider: "veriff", SessionID: "s-3", Reason: "r", Body: sealedOld, LastAt: time.Now()},
	} {
		if err := st.Quarantine(ctx, q, userstore.QuarantineLimits{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"nobody", "oldkey"} {
		for i := range 3 {
			if w := audit20bRedrive(t, st, now, id); w.Code == http.StatusServiceUnavailable {
				t.Errorf("re-drive %d of %s: %d %s; a condition that cannot clear must not answer 503", i+1, id, w.Code, w.Body)
			}
		}
	}
}

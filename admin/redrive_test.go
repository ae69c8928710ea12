package admin

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/workflows"
)

// capture is Temporal that keeps the events it is signalled with.
type capture struct {
	client.Client
	got []workflows.Event
}

func (c *capture) SignalWithStartWorkflow(_ context.Context, _, _ string, arg any, _ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	c.got = append(c.got, arg.(workflows.Event))
	return nil, nil
}

// postRedrive re-drives quarantined webhook id through the admin API, its
// events going to tc.
func postRedrive(t *testing.T, st *userstore.Store, opener Opener, tc *capture, id string) *httptest.ResponseRecorder {
	t.Helper()
	h := New(nil, nil, "tok", slog.New(slog.DiscardHandler)).
		WithOps(Ops{Operator: &operator.Operator{Temporal: tc, TaskQueue: "q", Log: slog.New(slog.DiscardHandler)}, Store: st,
			Providers: providers.Registry{veriff.Provider{}}}).WithOpener(opener).Handler()
	req := httptest.NewRequest(http.MethodPost, "/v1/quarantine/"+id+"/redrive", nil)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// A re-drive of an untimed decision (Veriff full auto) keeps as its receipt
// the time idvflow first received it (the quarantine's first_at), not the
// re-drive's: its order time (R5: the receipt, when the provider gives
// none) does not move forward.
func TestRedriveKeepsAnUntimedDecisionsFirstReceipt(t *testing.T) {
	ctx := context.Background()
	st := tempStore(t)
	codec, err := payloadcodec.ParseKeys(payloadcodec.NewKey("k"))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"eventType":"fullauto","sessionId":"s-2","attemptId":"a","vendorData":"u-1","data":{"verification":{"decision":"approved","decisionScore":0.9}}}`)
	sealed, err := codec.Seal(body)
	if err != nil {
		t.Fatal(err)
	}
	firstAt := time.Now().Add(-21 * 24 * time.Hour).UTC().Truncate(time.Microsecond)
	if err := st.Quarantine(ctx, userstore.Quarantined{ID: "q1", Provider: "veriff", SessionID: "s-2", Reason: "malformed payload", Body: sealed, LastAt: firstAt}, userstore.QuarantineLimits{}); err != nil {
		t.Fatal(err)
	}
	tc := &capture{}
	w := postRedrive(t, st, codec, tc, "q1")
	if w.Code != http.StatusOK || len(tc.got) != 1 {
		t.Fatalf("redrive: %d %s", w.Code, w.Body)
	}
	ev := tc.got[0]
	if !ev.OccurredAt.IsZero() {
		t.Fatalf("the test's body must be an untimed decision, got a provider time %s", ev.OccurredAt)
	}
	if !ev.ReceivedAt.Equal(firstAt) {
		t.Fatalf("re-driven untimed decision is received at %s (the re-drive), not %s (its first receipt): its order time moves three weeks forward", ev.ReceivedAt.Format(time.RFC3339), firstAt.Format(time.RFC3339))
	}
}

// A webhook quarantined without its body (the receiver had no payload
// keys), or sealed under a key since removed from the ring, can never be
// re-driven. The re-drive does not answer 503 (Temporal-style "try again
// later"), as if it might clear by itself, however often it is asked.
func TestRedriveThatCanNeverWorkDoesNotAnswer503(t *testing.T) {
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
			if w := postRedrive(t, st, now, &capture{}, id); w.Code == http.StatusServiceUnavailable {
				t.Errorf("re-drive %d of %s: %d %s; a condition that cannot clear must not answer 503", i+1, id, w.Code, w.Body)
			}
		}
	}
}

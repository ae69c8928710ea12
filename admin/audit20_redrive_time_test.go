package admin

// Issue 20 audit (regression): a re-drive of an untimed decision (Veriff
// full auto) gives it the re-drive's time as its receipt, so its order
// time (R5: the receipt, when the provider gives none) is "now", not when
// idvflow first received it (the quarantine's first_at).

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

type capture struct {
	client.Client
	got []workflows.Event
}

func (c *capture) SignalWithStartWorkflow(_ context.Context, _, _ string, arg any, _ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	c.got = append(c.got, arg.(workflows.Event))
	return nil, nil
}

func TestAuditRedriveOrdersAnUntimedDecisionAtTheRedrive(t *testing.T) {
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
	h := New(nil, nil, "tok", slog.New(slog.DiscardHandler)).
		WithOps(Ops{Operator: &operator.Operator{Temporal: tc, TaskQueue: "q", Log: slog.New(slog.DiscardHandler)}, Store: st,
			Providers: providers.Registry{veriff.Provider{}}}).WithOpener(codec).Handler()
	req := httptest.NewRequest(http.MethodPost, "/v1/quarantine/q1/redrive", nil)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
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

package integration

// The operator's retry when the failed run is no longer the session's
// newest.

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// A Passbase approval answered 200 whose run failed (the details fetch
// refused: 404); the provider side is fixed; then a webhook without a
// decision (a late "processing" event) answered 200 starts a new run
// before the operator's retry. The retry hands over what every run that
// ended before its end held, whatever the newest run is doing: the approval reaches the user now, not at the new
// run's poll (IDV_DECISION_POLL_AFTER, an hour by default), which the
// provider's API might not answer with it at all.
func TestRetryAfterALaterWebhookHandsOverTheFailedRunsApproval(t *testing.T) {
	st := faultStack(t, testkit.Options{})
	user, created := "retry-later-user", time.Now().Add(-10*time.Minute).UTC()
	key := sim.NewUUID()
	postPassbase(t, st, passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", created, created.Add(5*time.Minute)))
	id := workflows.WorkflowID(passbase.Name, key)
	if err := st.WaitClosed(context.Background(), id, time.Minute); err != nil {
		t.Fatal(err)
	}
	c := st.Temporal.GetDefaultClient()
	if s := status(t, c, id); s != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		t.Fatalf("session the provider does not know: %s, want failed", s)
	}
	failedRun := newestRun(t, c, id)
	st.Emulator.Put(passbase.Name, key, passbase.IdentityObject(key, user, "approved", created, created.Add(5*time.Minute)))
	postPassbase(t, st, passbase.ProcessedBody(passbase.VocabularyNew, key, "", "processing", created, created.Add(time.Minute)))
	awaitNewRun(t, c, id, failedRun)

	r, err := st.Operator.Do(context.Background(), operator.ActionRetry, operator.Target{Provider: passbase.Name, SessionID: key}, "")
	t.Logf("retry: %s: %s (%v)", r.Outcome, r.Detail, err)
	waitUser(t, st, user, "approved", 30*time.Second)
}

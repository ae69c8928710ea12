package integration

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
)

// lostAck is the real hand-over whose first answer never reaches UpdateUser:
// the SignalWithStart landed, but the activity attempt then fails before
// MarkHanded (the RPC's answer lost to a timeout, the worker killed, or
// the database down for MarkHanded), and Temporal retries the activity
// only after the onboarding run took the change, ran its steps and closed
// for IDV_ONBOARDING_IDLE. (Here the first attempt itself waits for that
// close, to make the window deterministic; with the default 10m idle it is
// a store outage longer than 10 minutes after the signal.)
type lostAck struct {
	inner activities.Onboarder
	c     client.Client
	calls atomic.Int32
}

func (l *lostAck) Hand(ctx context.Context, userRef string, ch onboarding.Change) error {
	if err := l.inner.Hand(ctx, userRef, ch); err != nil {
		return err
	}
	if l.calls.Add(1) > 1 {
		return nil
	}
	id := onboarding.WorkflowID(userRef)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d, err := l.c.DescribeWorkflowExecution(ctx, id, "")
		if err == nil && d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("signal with start: context deadline exceeded (the answer was lost)")
}

// Audit: R11 "a hand-over retried after it landed (the activity's attempt
// failed after the signal) is dropped by the onboarding"; non-negotiable
// "nothing applied twice". The onboarding drops a repeat only while the
// run that took the change is open; once it closed (IDV_ONBOARDING_IDLE),
// the retried hand-over starts a new run, whose seen set is empty, and
// the change's steps run again: the app is notified twice.
func TestAuditRetriedHandOverAfterOnboardingClosed(t *testing.T) {
	st, err := testkit.Start(context.Background(), testkit.Options{
		Workflow: onboardingFlow(), T: t, Env: map[string]string{"IDV_ONBOARDING_IDLE": "1s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	la := &lostAck{inner: st.Activities.Onboarding, c: st.Temporal.GetDefaultClient()}
	st.Activities.Onboarding = la

	user, sessionID := "user-audit-lost-ack", "0a0d0d0d-0000-4000-8000-0000000000a1"
	st.Emulator.Put(veriff.Name, sessionID, nil)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", now))); code != http.StatusOK {
		t.Fatalf("approval: %d", code)
	}
	waitUser(t, st, user, "approved", 20*time.Second)
	waitFor(t, "the retried hand-over", 60*time.Second, func() bool { return la.calls.Load() >= 2 })
	time.Sleep(3 * time.Second) // the second onboarding run's steps
	got := st.Notifications(user)
	if len(got) != 1 {
		t.Fatalf("R11: the approval was notified %d times (%+v); a retried hand-over must start no steps", len(got), got)
	}
}

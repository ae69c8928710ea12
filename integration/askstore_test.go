package integration

// A new run that asks the store first, for a session whose final decision
// was written but never handed over.

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/worker"
	"github.com/idvflow/idvflow/workflows"
)

type refusingOnboarder struct{}

func (refusingOnboarder) Hand(context.Context, string, onboarding.Change) error {
	return errors.New("temporal: onboarding start refused (test)")
}

// The store took the approval, but its hand-over did not land (the
// ApplyAndHandOver attempt between the commit and the signal: here the
// onboarding's start keeps failing) when the session's run was
// terminated. The provider redelivers the webhook: before askStore the new
// run wrote it again, the store answered "duplicate" and handed the change
// over (R7: "a later run that meets the change again"). The new run,
// though it takes the store's decision as applied and closes at once,
// still writes the redelivery (the same decision): the store answers it
// from its log and hands it over, and the app hears of the approval.
func TestRedeliveryAfterALostHandOverReachesTheApp(t *testing.T) {
	st := faultStack(t, testkit.Options{NoWorker: true, Workflow: onboardingFlow(), Env: map[string]string{"IDV_ONBOARDING_IDLE": "2s"}})
	broken := *st.Activities
	broken.Onboarding = refusingOnboarder{}
	w := st.Temporal.NewWorkerWithOptions(testkit.TaskQueue, func(r sdkworker.Registry) {
		worker.Register(r, &broken, st.Workflow)
	}, worker.Options(time.Second))

	user, sessionID := "lost-handover-user", sim.NewUUID()
	st.Emulator.Put(veriff.Name, sessionID, nil)
	approval := veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", time.Now().Add(-time.Minute).UTC()))
	if code := send(t, st.Receiver.URL, approval); code != http.StatusOK {
		t.Fatalf("approval: %d", code)
	}
	waitUser(t, st, user, "approved", 30*time.Second)
	ctx := context.Background()
	c := st.Temporal.GetDefaultClient()
	id := workflows.WorkflowID(veriff.Name, sessionID)
	if err := c.TerminateWorkflow(ctx, id, "", "operator in the Web UI"); err != nil {
		t.Fatal(err)
	}
	w.Stop()
	st.StartWorker(time.Second)

	if code := send(t, st.Receiver.URL, approval); code != http.StatusOK { // the provider's redelivery
		t.Fatalf("redelivery: %d", code)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(st.Notifications(user)) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if got := st.Notifications(user); len(got) != 1 || got[0].Data.Status != "approved" {
		t.Fatalf("notifications %+v; want the approval once (the record says approved)", got)
	}
}

package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/onboarding"
)

func heard(a *app) []string {
	var got []string
	for _, m := range a.delivered() {
		got = append(got, m.WebhookID)
	}
	return got
}

// AUDIT 1: a run of 1.0 (Plan.Release 0, still open at the upgrade: a
// continued chain, or one waiting at a gate) never finishes a change in the
// store, so what 1.2 workers owe it stays owed after its steps ran. The
// next run of the onboarding (Release 2) reads it and runs the steps
// again: the app hears of the changes twice, with no reset or terminate.
func TestAuditRelease0RunLeavesItsChangesOwed(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	users := testStore(t)
	a := change("c-a", "approved", t0)
	b := change("c-b", "declined", t0.Add(time.Minute))
	for _, c := range []onboarding.Change{a, b} {
		owe(t, users, c) // what a 1.2 worker's hand-over writes before its signal
	}
	id := client.StartWorkflowOptions{ID: onboarding.WorkflowID(a.UserID)}

	// A run of 1.0, continued as new (its plan carried): it runs both.
	old := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute}
	env, app1 := onboardingEnv(t, t0.Add(2*time.Minute), old, users)
	env.SetStartWorkflowOptions(id)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(onboarding.SignalChange, a)
		env.SignalWorkflow(onboarding.SignalChange, b)
	}, 0)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{Plan: old, Carried: &onboarding.Carried{}})
	if err := env.GetWorkflowError(); err != nil || !env.IsWorkflowCompleted() {
		t.Fatalf("run of 1.0: %v", err)
	}
	if got := heard(app1); !slices.Equal(got, []string{"msg_c-a", "msg_c-b"}) {
		t.Fatalf("run of 1.0: the app heard of %v", got)
	}

	// Days later the user's next change starts a new run (Release 2).
	next := change("c-next", "expired", t0.Add(48*time.Hour))
	env2, app2 := onboardingEnv(t, t0.Add(48*time.Hour), old, users)
	env2.SetStartWorkflowOptions(id)
	env2.RegisterDelayedCallback(func() { env2.SignalWorkflow(onboarding.SignalChange, next) }, 0)
	env2.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	if err := env2.GetWorkflowError(); err != nil || !env2.IsWorkflowCompleted() {
		t.Fatalf("next run: %v", err)
	}
	if got := heard(app2); !slices.Equal(got, []string{"msg_c-next"}) {
		t.Fatalf("R11: with no reset or terminate, the next run posted %v; want only [msg_c-next]", got)
	}
}

// AUDIT 2: the read of what is owed is bounded in hand-over order
// (ORDER BY at_us), not in the record's order, and the run reads on only
// when it takes the last change of its queue. A change handed after the
// first 500 that orders before one of them (not the last) runs after it:
// here an older decline is posted after a newer approval, and the app's
// last verdict is not the record's.
func TestAuditBoundedOwedReadRunsAnOlderVerdictLast(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	users := testStore(t)
	ctx := context.Background()
	handed := t0.Add(-24 * time.Hour)
	oweAt := func(c onboarding.Change) {
		t.Helper()
		bs, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		handed = handed.Add(time.Second)
		if err := users.Owe(ctx, c.ID, c.UserID, bs, handed); err != nil {
			t.Fatal(err)
		}
	}
	approved := change("c-approved", "approved", t0.Add(20*time.Minute)) // the record's verdict
	oweAt(approved)
	oweAt(change("c-expired", "expired", t0.Add(30*time.Minute)))
	for i := range 498 {
		c := change(fmt.Sprintf("c-f%03d", i), "expired", t0.Add(time.Hour+time.Duration(i)*time.Minute))
		c.SessionID = fmt.Sprintf("s-%03d", i)
		oweAt(c)
	}
	declined := change("c-declined", "declined", t0.Add(10*time.Minute)) // older: handed late
	oweAt(declined)

	// The operator's retry hands the oldest hand-over first; it starts the run.
	plan := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute}
	env, app := onboardingEnv(t, t0.Add(48*time.Hour), plan, users)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: onboarding.WorkflowID(approved.UserID)})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, approved) }, 0)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	if err := env.GetWorkflowError(); err != nil || !env.IsWorkflowCompleted() {
		t.Fatalf("onboarding: %v", err)
	}
	var verdicts []string
	for _, m := range app.delivered() {
		if m.Data.Kind == activities.NotifyVerdict {
			verdicts = append(verdicts, m.Data.Status+"@"+m.Data.DecidedAt.Format("15:04"))
		}
	}
	if len(verdicts) == 0 || verdicts[len(verdicts)-1] != "approved@09:20" {
		t.Fatalf("R11: the app heard verdicts %v; its last must be the record's (approved@09:20)", verdicts)
	}
}

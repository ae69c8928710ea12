package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/onboarding"
)

// owe writes what a session's hand-over writes before its signal: the
// store owes the user's onboarding change c until its steps ran.
func owe(t *testing.T, users *userstore.Store, c onboarding.Change) {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Owe(context.Background(), c.ID, c.UserID, b, c.At); err != nil {
		t.Fatal(err)
	}
}

// R11: a terminated onboarding run drops what it held, never the store.
// The store owes the user's onboarding an approval the terminated run held
// at the review gate, and one whose notify step it began (taken, not
// finished); one it finished is not owed. The user's next change, a
// decline, starts a new run: it takes in what is owed before its first
// step, so the app hears of the approvals and then the decline, in the
// record's order, each once, and nothing of the finished one.
func TestRunAfterATerminatedOneRunsWhatItHeld(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	users := testStore(t)
	finished := change("c-finished", "approved", t0.Add(-time.Hour))
	begun := change("c-begun", "expired", t0)
	held := change("c-held", "approved", t0.Add(time.Minute))
	for _, c := range []onboarding.Change{finished, begun, held} {
		owe(t, users, c)
	}
	ctx := context.Background()
	for _, c := range []onboarding.Change{finished, begun} {
		if _, err := users.Take(ctx, c.ID, onboarding.WorkflowID(c.UserID), t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := users.FinishTake(ctx, finished.ID, t0); err != nil {
		t.Fatal(err)
	}

	plan := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute}
	env, app := onboardingEnv(t, t0.Add(2*time.Hour), plan, users)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: onboarding.WorkflowID(held.UserID)})
	declined := change("c-declined", "declined", t0.Add(2*time.Hour))
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, declined) }, 0)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	if err := env.GetWorkflowError(); err != nil || !env.IsWorkflowCompleted() {
		t.Fatalf("onboarding: %v", err)
	}
	var got []string
	for _, m := range app.delivered() {
		got = append(got, m.WebhookID)
	}
	if want := []string{"msg_c-begun", "msg_c-held", "msg_c-declined"}; !slices.Equal(got, want) {
		t.Fatalf("the app heard of %v, want %v", got, want)
	}
	left, _, err := users.Owed(ctx, held.UserID, 10, 1<<20)
	if err != nil || len(left) != 0 {
		t.Fatalf("still owed after the run: %d (%v)", len(left), err)
	}
}

// R11: a read of what is owed stops at its bounds; the run reads on once
// it ran what the first read took, so the rest is not left for a later
// run (which may never start).
func TestOwedReadThatStopsAtItsBoundsReadsOn(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	plan := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute}
	env, app := onboardingEnv(t, t0, plan, nil)
	first, rest := change("c-1", "approved", t0), change("c-2", "declined", t0.Add(time.Minute))
	var reads atomic.Int32
	// The first read comes with the new run's first take.
	env.OnActivity("TakeAndReadOwed", mock.Anything, mock.Anything, mock.Anything).Return(func(context.Context, string, string) (activities.Taken, error) {
		reads.Add(1)
		return activities.Taken{First: true, Owed: activities.Owed{Changes: []onboarding.Change{first}, More: true}}, nil
	})
	env.OnActivity("OwedChanges", mock.Anything, mock.Anything).Return(func(context.Context, string) (activities.Owed, error) {
		reads.Add(1)
		return activities.Owed{Changes: []onboarding.Change{first, rest}}, nil
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, first) }, 0)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	if err := env.GetWorkflowError(); err != nil || !env.IsWorkflowCompleted() {
		t.Fatalf("onboarding: %v", err)
	}
	var got []string
	for _, m := range app.delivered() {
		got = append(got, m.WebhookID)
	}
	if want := []string{"msg_c-1", "msg_c-2"}; !slices.Equal(got, want) || reads.Load() != 2 {
		t.Fatalf("the app heard of %v after %d reads, want %v after 2", got, reads.Load(), want)
	}
}

// R11: a run cancelled while its read of what is owed keeps failing hands
// the read to its continuation, with whose onboarding it is: the new run
// reads before its first change, as a run that began the onboarding does.
func TestRunContinuedBeforeItReadWhatIsOwedReadsFirst(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	plan := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute}
	env, _ := onboardingEnv(t, t0, plan, nil)
	env.OnActivity("TakeAndReadOwed", mock.Anything, mock.Anything, mock.Anything).Return(activities.Taken{}, errors.New("store unavailable"))
	c := change("c-1", "approved", t0)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, c) }, 0)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Hour)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("run: %v, want continue-as-new", err)
	}
	var in onboarding.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
		t.Fatal(err)
	}
	if in.Carried == nil || !in.Carried.Unread || in.Carried.User != c.UserID || len(in.Carried.Queued) != 1 {
		t.Fatalf("carried %+v; want the unread store, the user and the queued change", in.Carried)
	}
}

package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// webhookIDs are the webhook-ids of what the app took, in order.
func (a *app) webhookIDs() []string {
	var ids []string
	for _, m := range a.delivered() {
		ids = append(ids, m.WebhookID)
	}
	return ids
}

// owe writes what a session's hand-over writes before its signal: the
// store owes the user's onboarding change c until its steps ran.
func owe(t *testing.T, users *userstore.Store, c onboarding.Change) {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := users.Owe(context.Background(), c.ID, c.UserID, c.SortKey(), b, c.At); err != nil {
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
		if _, err := users.TakeToFinish(ctx, c.ID, onboarding.WorkflowID(c.UserID), t0); err != nil {
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
	if got, want := app.webhookIDs(), []string{"msg_c-begun", "msg_c-held", "msg_c-declined"}; !slices.Equal(got, want) {
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
	if got, want := app.webhookIDs(), []string{"msg_c-1", "msg_c-2"}; !slices.Equal(got, want) || reads.Load() != 2 {
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

// R11, runs of 1.0: a run of 1.0 (Plan.Release 0: a continued chain still
// open at the upgrade) never records a finish, so a change it took is not
// read as owed by a later run: the user's next change starts a run of
// today's release, which posts only that change.
func TestChangesARunOf1_0TookAreNotOwedAgain(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	users := testStore(t)
	a := change("c-a", "approved", t0)
	b := change("c-b", "declined", t0.Add(time.Minute))
	for _, c := range []onboarding.Change{a, b} {
		owe(t, users, c) // today's hand-over writes the debt before its signal
	}
	id := client.StartWorkflowOptions{ID: onboarding.WorkflowID(a.UserID)}
	old := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute} // Release 0, carried
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
	if got := app1.webhookIDs(); !slices.Equal(got, []string{"msg_c-a", "msg_c-b"}) {
		t.Fatalf("run of 1.0: the app heard of %v", got)
	}
	next := change("c-next", "expired", t0.Add(48*time.Hour))
	env2, app2 := onboardingEnv(t, t0.Add(48*time.Hour), old, users)
	env2.SetStartWorkflowOptions(id)
	env2.RegisterDelayedCallback(func() { env2.SignalWorkflow(onboarding.SignalChange, next) }, 0)
	env2.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	if err := env2.GetWorkflowError(); err != nil || !env2.IsWorkflowCompleted() {
		t.Fatalf("next run: %v", err)
	}
	if got := app2.webhookIDs(); !slices.Equal(got, []string{"msg_c-next"}) {
		t.Fatalf("the next run posted %v; want only [msg_c-next]", got)
	}
}

// R11: a read of what is owed that stops at its bounds takes the oldest
// changes in the record's order, not the oldest hand-overs: of 501 owed
// changes, a decline handed last but ordered first runs first, and the
// app's last verdict is the record's (the approval).
func TestBoundedOwedReadTakesTheRecordsOldestFirst(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	users := testStore(t)
	handed := t0.Add(-24 * time.Hour)
	oweNext := func(c onboarding.Change) { // handed a second after the one before
		t.Helper()
		handed = handed.Add(time.Second)
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := users.Owe(context.Background(), c.ID, c.UserID, c.SortKey(), b, handed); err != nil {
			t.Fatal(err)
		}
	}
	approved := change("c-approved", "approved", t0.Add(20*time.Minute)) // the record's verdict
	oweNext(approved)
	oweNext(change("c-expired", "expired", t0.Add(30*time.Minute)))
	for i := range 498 {
		c := change(fmt.Sprintf("c-f%03d", i), "expired", t0.Add(time.Hour+time.Duration(i)*time.Minute))
		c.SessionID = fmt.Sprintf("s-%03d", i)
		oweNext(c)
	}
	oweNext(change("c-declined", "declined", t0.Add(10*time.Minute))) // older, handed last

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
			verdicts = append(verdicts, m.Data.Status)
		}
	}
	if !slices.Equal(verdicts, []string{"declined", "approved"}) || len(app.delivered()) != 501 {
		t.Fatalf("the app heard verdicts %v of %d changes; want the decline, then the approval, of 501", verdicts, len(app.delivered()))
	}
}

// R11, runs of 1.1: a run of Plan.Release 1 reads nothing owed and takes
// as before: an older change handed while the take of a newer one is
// retried runs after the newer one, as 1.1 ran it (and as its histories
// replay: testdata/histories/v1.1/onboarding-release1-take-outlasts-a-task.json).
func TestRunOf1_1TakesAsBefore(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	plan := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute, Release: 1}
	env, app := onboardingEnv(t, t0, plan, nil)
	start := env.Now()
	env.OnActivity("TakeChange", mock.Anything, mock.Anything).Return(func(context.Context, string) (bool, error) {
		if env.Now().Sub(start) < 8*time.Minute {
			return false, errors.New("store unavailable")
		}
		return true, nil
	})
	newer, older := change("c-newer", "declined", t0), change("c-older", "approved", t0.Add(-time.Hour))
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, older) }, 6*time.Minute)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{Plan: plan, Carried: &onboarding.Carried{
		Queued: []onboarding.Change{newer}, Seen: []string{newer.ID}}})
	if err := env.GetWorkflowError(); err != nil || !env.IsWorkflowCompleted() {
		t.Fatalf("onboarding: %v", err)
	}
	if got, want := app.webhookIDs(), []string{"msg_c-newer", "msg_c-older"}; !slices.Equal(got, want) {
		t.Fatalf("a run of 1.1 posted %v; 1.1 posted %v", got, want)
	}
}

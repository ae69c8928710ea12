package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/workflows"
)

// oneRun runs one run of a session on h's activities and store, in a new
// test environment started at start, with earlier answering the run's
// read of the session's earlier runs (workflows.EarlierRunsActivity);
// prepare may mock activities and stage signals. It returns, when the run
// continued as new, the next run's input, and the run's error.
func oneRun(t *testing.T, h *harness, cfg workflows.Config, start time.Time, in workflows.Input,
	earlier func(context.Context) (workflows.Earlier, error), prepare func(*testsuite.TestWorkflowEnvironment)) (*workflows.Input, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.RegisterActivity(h.acts)
	env.RegisterActivityWithOptions(earlier, activity.RegisterOptions{Name: workflows.EarlierRunsActivity})
	if prepare != nil {
		prepare(env)
	}
	v := &workflows.Verification{Config: cfg}
	env.RegisterWorkflowWithOptions(v.VerificationWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	env.ExecuteWorkflow(workflows.WorkflowName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("run did not complete")
	}
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if errors.As(err, &can) {
		var next workflows.Input
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
			t.Fatal(err)
		}
		return &next, nil
	}
	return nil, err
}

// noEarlier is a session whose earlier runs all ended on their own.
func noEarlier(context.Context) (workflows.Earlier, error) { return workflows.Earlier{}, nil }

// R8: a new run asks the store before it waits, also when it had to
// continue as new while it read the session's earlier runs. Here the
// session was approved by an earlier run; a late progress webhook, sent
// again 2,000 times, reopens it while the read is slow, so the run hands
// over before it asked; its continuation asks the store and closes
// at once, the user still approved. (The continuation was no new run any
// more: it waited as a new session's run, polled a provider that no
// longer knew the session, and ended the decided session in error.)
func TestReopenedRunThatContinuesAsNewWhileItReadsStillAsksTheStore(t *testing.T) {
	h := newHarness(t)
	id, user := "reopen-can", "user-reopen-can"
	started := receive(veriff.Name, veriff.EventBody(id, "a", user, veriff.Started))
	approved := receive(veriff.Name, veriff.DecisionBody(id, "a", user, "approved", t0.Add(time.Minute)))
	next, err := oneRun(t, h, h.cfg, t0, workflows.Input{Provider: veriff.Name, SessionID: id}, noEarlier, func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() {
			for _, e := range []workflows.Event{started, approved} {
				e.ReceivedAt = env.Now().UTC()
				env.SignalWorkflow(workflows.SignalEvent, e)
			}
		}, 0)
	})
	if err != nil || next != nil || h.user(user).Status != "approved" {
		t.Fatalf("first run: %v, continued %v, user %s; want it approved", err, next != nil, h.user(user).Status)
	}
	start := t0.Add(48 * time.Hour)
	next, err = oneRun(t, h, h.cfg, start, workflows.Input{Provider: veriff.Name, SessionID: id, Reopened: true}, noEarlier, func(env *testsuite.TestWorkflowEnvironment) {
		env.OnActivity(workflows.EarlierRunsActivity, mock.Anything).After(30*time.Second).Return(workflows.Earlier{}, nil) // a slow read
		// In batches: the test environment queues at most 1,000 callbacks.
		for i := range 4 {
			env.RegisterDelayedCallback(func() {
				for range 500 {
					e := started
					e.ReceivedAt = env.Now().UTC()
					env.SignalWorkflow(workflows.SignalEvent, e)
				}
			}, time.Duration(i+1)*time.Second)
		}
	})
	if err != nil || next == nil || !next.Reopened {
		t.Fatalf("reopened run: %v, continued %v; want it to continue as new while it reads, the read still to do", err, next != nil)
	}
	asked := false
	next, err = oneRun(t, h, h.cfg, start.Add(time.Minute), *next, noEarlier, func(env *testsuite.TestWorkflowEnvironment) {
		env.OnActivity(h.acts.HeldDecision, mock.Anything, mock.Anything, mock.Anything).Return(
			func(ctx context.Context, p, s string) (activities.SessionDecision, error) {
				asked = true
				return h.acts.HeldDecision(ctx, p, s)
			})
	})
	if u := h.user(user); !asked || err != nil || next != nil || u.Status != "approved" {
		t.Fatalf("continuation asked the store: %v; error %v; continued %v; user %s (decisions %s); want asked, closed, approved",
			asked, err, next != nil, u.Status, statuses(u))
	}
}

// A reopened run does not wait without end on the session's earlier runs:
// when they cannot be read (an unreadable history, visibility refusing),
// it goes on as runs did before, and the approval that came with its
// start reaches the record. (On a real server the read retried without
// end, and the session wrote nothing and never expired; the test
// environment ends a local activity's retries after ten attempts, so it
// shows the run going on, not the bound itself, earlierRunsFor.)
func TestReopenedRunGoesOnWhenTheEarlierRunsCannotBeRead(t *testing.T) {
	h := newHarness(t)
	id, user := "reopen-unreadable", "user-reopen-unreadable"
	approved := receive(veriff.Name, veriff.DecisionBody(id, "a", user, "approved", t0.Add(time.Minute)))
	unreadable := func(context.Context) (workflows.Earlier, error) {
		return workflows.Earlier{}, errors.New("cannot decode")
	}
	next, err := oneRun(t, h, h.cfg, t0.Add(2*time.Minute), workflows.Input{Provider: veriff.Name, SessionID: id, Reopened: true}, unreadable,
		func(env *testsuite.TestWorkflowEnvironment) {
			env.RegisterDelayedCallback(func() {
				approved.ReceivedAt = env.Now().UTC()
				env.SignalWorkflow(workflows.SignalEvent, approved)
			}, 0)
		})
	if u := h.user(user); err != nil || next != nil || u.Status != "approved" {
		t.Fatalf("run: %v, continued %v, user %s; want the approval applied", err, next != nil, u.Status)
	}
}

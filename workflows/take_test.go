package workflows_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/workflows"
)

// R11's take runs in rounds of up to 10 attempts, a minute apart at most.
// The take is a local activity, whose retries all end at its
// ScheduleToCloseTimeout (by default its one-minute StartToCloseTimeout):
// that timeout must leave room for the round's 10 attempts and their
// backoff, or a store that fails quickly gets 6 attempts and one that hangs
// gets one before the run pauses for 5 minutes, then 10, 20...
func TestTakeRetriesTenTimesARound(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	plan := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute}
	o := &workflows.Onboarding{Plan: plan, ActivityTimeout: time.Minute}
	env.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})
	start := env.Now()
	storeBack := 4*time.Minute + 30*time.Second // before the first round's pause ends
	var calls atomic.Int32                      // each attempt runs in a goroutine of its own
	// A new run's first take reads what the store owes with it.
	env.OnActivity("TakeAndReadOwed", mock.Anything, mock.Anything, mock.Anything).Return(func(context.Context, string, string) (activities.Taken, error) {
		if env.Now().Sub(start) >= storeBack {
			return activities.Taken{First: true}, nil
		}
		calls.Add(1)
		return activities.Taken{}, errors.New("store unavailable") // retryable
	})
	env.OnActivity("NotifyApp", mock.Anything, mock.Anything).Return(activities.NotifyResult{}, nil)
	env.OnActivity("FinishChange", mock.Anything, mock.Anything).Return(nil)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(onboarding.SignalChange, onboarding.Change{ID: "c1", UserID: "u1", Status: "approved", At: start})
	}, 0)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("run: completed %v, %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if n := calls.Load(); n != 10 {
		t.Fatalf("the take's first round made %d attempts, want 10", n)
	}
}

// R11, the take's identity: a take commits in the store but its answer is
// lost, and the store stays down for the round, so the run hands over
// (R10) between rounds with the change queued. The next run takes the same
// change: it is this onboarding's (the same workflow id) and its steps
// have not run, so that run runs them and the app hears of the change once.
func TestTakeWhoseAnswerWasLostIsFinishedByTheNextRun(t *testing.T) {
	t0 := time.Date(2026, 10, 9, 9, 0, 0, 0, time.UTC)
	c := change("c-take-lost", "approved", t0)
	plan := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute}
	users := testStore(t)

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sharedWorld(t).quiet)
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	env.RegisterActivity(&activities.Activities{Users: users})
	o := &workflows.Onboarding{Plan: plan, ActivityTimeout: time.Minute}
	env.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})
	var calls atomic.Int32 // each attempt runs in a goroutine of its own
	// A new run's first take reads what the store owes with it.
	env.OnActivity("TakeAndReadOwed", mock.Anything, mock.Anything, mock.Anything).Return(func(ctx context.Context, id, _ string) (activities.Taken, error) {
		if calls.Add(1) == 1 {
			// The take commits; its answer is lost.
			if _, err := users.Take(ctx, id, activity.GetInfo(ctx).WorkflowExecution.ID, time.Now()); err != nil {
				return activities.Taken{}, err
			}
		}
		return activities.Taken{}, errors.New("store unavailable")
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, c) }, 0)
	for i := range 21 { // the hand-over repeated while the store is down
		env.RegisterDelayedCallback(func() {
			for range 100 {
				env.SignalWorkflow(onboarding.SignalChange, c)
			}
		}, 6*time.Minute+time.Duration(i)*time.Second)
	}
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("first run: %v, want continue-as-new", err)
	}
	var next onboarding.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	env2, app2 := onboardingEnv(t, t0.Add(time.Hour), onboarding.Plan{}, users)
	env2.ExecuteWorkflow(onboarding.WorkflowName, next)
	if err := env2.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := app2.delivered(); len(got) != 1 {
		t.Fatalf("the app got %d notifications of change %s, want 1", len(got), c.ID)
	}
}

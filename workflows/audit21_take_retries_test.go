package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/workflows"
)

// Audit of issue 21: generation 1 takes a change in a local activity with
// the activity take's retry policy (10 attempts, a minute apart at most,
// R11's "rounds of up to 10 attempts") and only a StartToCloseTimeout. The
// SDK then sets the local activity's ScheduleToCloseTimeout to the same
// minute, which bounds all its retries: a round of the local take ends
// after the attempts that fit in one minute (6 for quick failures, a single
// one when an attempt hangs for its minute), and the run sleeps 5 minutes,
// then 10, 20... The activity take of generation 0 made 10 attempts a round.
func TestAudit21LocalTakeRetriesAsTheActivityTake(t *testing.T) {
	attemptsInFirstRound := func(t *testing.T, generation int) int {
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestWorkflowEnvironment()
		env.RegisterActivity(&activities.Activities{})
		plan := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute, Generation: generation}
		o := &workflows.Onboarding{Plan: plan, ActivityTimeout: time.Minute}
		env.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})
		start := env.Now()
		storeBack := 4*time.Minute + 30*time.Second // before the first round's pause ends
		calls := 0
		env.OnActivity("TakeChange", mock.Anything, mock.Anything).Return(func(context.Context, string) (bool, error) {
			if env.Now().Sub(start) >= storeBack {
				return true, nil
			}
			calls++
			return false, errors.New("store unavailable") // retryable
		})
		env.OnActivity("NotifyApp", mock.Anything, mock.Anything).Return(activities.NotifyResult{}, nil)
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(onboarding.SignalChange, onboarding.Change{ID: "c1", UserID: "u1", Status: "approved", At: start})
		}, 0)
		in := onboarding.Input{}
		if generation == 0 {
			// A run recorded before generation 1: its plan as carried.
			in = onboarding.Input{Plan: plan, Carried: &onboarding.Carried{}}
		}
		env.ExecuteWorkflow(onboarding.WorkflowName, in)
		if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
			t.Fatalf("run: completed %v, %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
		}
		return calls
	}
	old := attemptsInFirstRound(t, 0)
	local := attemptsInFirstRound(t, workflows.CurrentGeneration)
	if local != old {
		t.Fatalf("the take's first round made %d attempts in a local activity (generation %d), %d as an activity (generation 0); want the same retry policy",
			local, workflows.CurrentGeneration, old)
	}
}

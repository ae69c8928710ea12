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
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("run: completed %v, %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if calls != 10 {
		t.Fatalf("the take's first round made %d attempts, want 10", calls)
	}
}

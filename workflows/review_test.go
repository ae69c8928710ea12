package workflows_test

import (
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/workflows"
)

// R11's review gate: "the change id and reviewer name the answer: a
// retried request is the same Update, taken once" (UpdateID
// "review/<change>/<outcome>/<reviewer>"). Temporal deduplicates an Update
// id within one run only, so a review that was taken but whose answer the
// operator did not see (the admin API's 10 s deadline, a dropped
// connection), retried after the onboarding continued as new (here: the
// change passed the gate and its notify step waits for an app that is
// down, as carried to the next run), must be taken as the same answer, not
// refused as "no change waits for review" (the admin API would answer 409
// for a review that was in fact taken).
func TestReviewRetriedAfterContinueAsNewIsTheSameAnswer(t *testing.T) {
	t0 := time.Date(2026, 10, 9, 9, 0, 0, 0, time.UTC)
	c := change("c-approved", "approved", t0)
	plan := onboarding.Plan{Steps: []string{onboarding.StepReview, onboarding.StepNotify}, Review: []string{"approved"}, Idle: time.Minute}

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sharedWorld(t).quiet)
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	app := newApp(t, env.Now, t0.Add(3*time.Hour)) // down: the notify step is in rounds
	env.RegisterActivity(&activities.Activities{Notify: app.client, Users: testStore(t)})
	o := &workflows.Onboarding{ActivityTimeout: time.Minute}
	env.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})

	rv := onboarding.Review{ChangeID: c.ID, Outcome: onboarding.ReviewPassed, Reviewer: "officer-7"}
	updateID := "review/" + rv.ChangeID + "/" + rv.Outcome + "/" + rv.Reviewer // as admin.review names it
	var retry error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(onboarding.UpdateReview, updateID, &testsuite.TestUpdateCallback{
			OnReject: func(err error) { retry = err }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, rv)
	}, time.Minute)
	// The run after continue-as-new: the change passed its gate and is at
	// its notify step.
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{Plan: plan, Carried: &onboarding.Carried{
		Current: &c, Step: 1, Results: []string{"review: passed by officer-7"}, Answer: &rv, Seen: []string{c.ID},
	}})
	if retry != nil {
		t.Fatalf("the retried review (same Update id %q) of a review that was taken is refused: %v "+
			"(the admin API answers 409)", updateID, retry)
	}
}

package workflows_test

import (
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/idvflow/idvflow/onboarding"
)

// Audit, R11 "A step that waits for a person (the review gate) stops
// waiting when a NEWER change is queued ... the person reviews the newer
// one"; issue 22 "runs the team's steps for each change in the record's
// order".
//
// Two sessions of one user decide close together: session A's approval
// (T0) is committed first but its hand-over lands second (a retried
// SignalWithStart), session B's decline (T0+1m, the record's verdict) is
// handed over first and waits at the gate (IDV_REVIEW_STATUSES=approved,
// declined). When the older approval is queued, reviewGate's condition
// `len(r.queued) > 0` ends the decline's wait as "superseded" although the
// queued change is OLDER: the decline's notify step is skipped, the
// reviewer's answer for the decline is refused, and the person is asked
// to review the approval instead. The app is never told of the decline
// (the record's status).
func TestAuditOlderChangeSupersedesTheGate(t *testing.T) {
	t0 := time.Date(2026, 10, 7, 9, 0, 0, 0, time.UTC)
	plan := onboarding.Plan{Steps: []string{onboarding.StepReview, onboarding.StepNotify},
		Review: []string{"approved", "declined"}, Idle: time.Minute}
	env, app := onboardingEnv(t, t0, plan, nil)
	declined := change("c-declined", "declined", t0.Add(time.Minute)) // newer: the record's verdict
	approved := change("c-approved", "approved", t0)                  // older, handed over late
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, declined) }, 0)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, approved) }, time.Second)
	var st onboarding.State
	env.RegisterDelayedCallback(func() { st = onboardingState(t, env) }, time.Hour)
	var refused error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(onboarding.UpdateReview, "officer", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { refused = err }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, onboarding.Review{ChangeID: declined.ID, Outcome: onboarding.ReviewPassed, Reviewer: "officer-7"})
	}, time.Hour+time.Minute)
	env.SetTestTimeout(time.Minute)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})

	if st.Current == nil || st.Current.ID != declined.ID || st.Waiting != onboarding.StepReview {
		t.Errorf("R11: an OLDER queued change ended the decline's review: current %+v waiting %q done %+v", st.Current, st.Waiting, st.Done)
	}
	if refused != nil {
		t.Errorf("the reviewer's answer for the decline (the record's verdict) was refused: %v", refused)
	}
	var statuses []string
	for _, n := range app.delivered() {
		statuses = append(statuses, n.Data.Status)
	}
	if len(statuses) == 0 || statuses[len(statuses)-1] != "declined" {
		t.Errorf("the app was told %v; it never heard of the decline the record holds", statuses)
	}
}

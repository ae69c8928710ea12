package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/workflows"
)

// A run of generation 1 holds the search attributes it learns (upsert)
// until its status changes, it waits, or it ends. A webhook that names the
// user by a better field while the run sleeps on a timer (the one-hour poll
// delay here) changes the run's user at once, and IdvUserId, which the
// admin API's SessionsQuery lists a user's sessions by, follows within the
// minute: it does not keep the old user until the timer fires or a
// decision wakes the run. Runs of generation 0 upserted it in the workflow
// task that learned it.
func TestUserIDAttributeIsNotHeldWhileTheRunSleeps(t *testing.T) {
	h := newHarness(t)
	start := time.Duration(0)
	// The session's first webhook names the user only by endUserId; the
	// receiver starts the run with that user, as it does in production.
	first := receive(veriff.Name, veriff.EndUserEventBody(session, "attempt", "end-user-1", veriff.Started))
	if err := h.env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		workflows.AttrProvider.ValueSet(veriff.Name), workflows.AttrStatus.ValueSet("waiting"), workflows.AttrUserID.ValueSet("end-user-1"),
	)); err != nil {
		t.Fatal(err)
	}
	h.at(start, first)
	// A minute later a webhook names her by vendorData, the better field.
	// (Another event than the first: a repeat of an event id is ignored.)
	h.at(time.Minute, receive(veriff.Name, veriff.EventBody(session, "attempt", "user-2", veriff.Submitted)))
	// The decision comes 50 minutes later (within the hour's poll delay).
	h.at(50*time.Minute, vfDecision(workflows.StatusApproved, t0))

	v := &workflows.Verification{Config: h.cfg}
	h.env.RegisterWorkflowWithOptions(v.VerificationWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	var begin time.Time
	h.env.RegisterDelayedCallback(func() { begin = h.env.Now() }, 0)
	var written time.Duration = -1
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		if v, ok := sa.GetKeyword(workflows.AttrUserID); ok && v == "user-2" && written < 0 {
			written = h.env.Now().Sub(begin)
		}
	})
	h.env.ExecuteWorkflow(workflows.WorkflowName, workflows.Input{Provider: veriff.Name, SessionID: session})
	if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() != nil {
		t.Fatalf("run: completed %v, %v", h.env.IsWorkflowCompleted(), h.env.GetWorkflowError())
	}
	if written < 0 || written > 2*time.Minute {
		t.Fatalf("IdvUserId=user-2 written %v after the start (-1: never); the run learned her at 1m0s, "+
			"so for %v visibility listed the session under end-user-1 only", written, written-time.Minute)
	}
}

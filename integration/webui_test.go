package integration

// Temporal's own Web UI actions on a session,
// Cancel and Terminate, after its webhook was answered 200, and the
// operator's retry as the way back.

import (
	"context"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// heldPassbaseDecision posts a Passbase approval (no processed event yet,
// so the run holds it for the processed grace, 5 s here) and
// returns the session's key and workflow id once the 200 came.
func heldPassbaseDecision(t *testing.T, st *testkit.Stack, user string) (string, string) {
	t.Helper()
	key := sim.NewUUID()
	created := time.Now().Add(-10 * time.Minute).UTC()
	st.Emulator.Put(passbase.Name, key, passbase.IdentityObject(key, user, "approved", created, created.Add(5*time.Minute)))
	body, err := passbase.Encrypt(passbaseSecret, passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", created, created.Add(5*time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if code := send(t, st.Receiver.URL, delivery{"/webhooks/passbase", "text/plain", nil, body}); code != 200 {
		t.Fatalf("webhook: %d, want 200", code)
	}
	return key, workflows.WorkflowID(passbase.Name, key)
}

func graceStack(t *testing.T) *testkit.Stack {
	wf := shortSessions()
	wf.ProcessedGrace = 5 * time.Second
	wf.ActivityTimeout = 3 * time.Second
	return faultStack(t, testkit.Options{Workflow: wf})
}

// The Web UI's "Request Cancellation" on a session that holds an
// acknowledged decision: the run ends cancelled without writing it; the
// operator's retry takes a cancelled run as one that failed and hands its
// events on, so the approval answered 200 reaches the user.
func TestRetryOfACancelledSessionKeepsItsDecision(t *testing.T) {
	st := graceStack(t)
	user := "cancel-user"
	key, id := heldPassbaseDecision(t, st, user)
	c := st.Temporal.GetDefaultClient()
	if err := c.CancelWorkflow(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
	_ = st.WaitClosed(context.Background(), id, 30*time.Second)
	r, err := st.Operator.Do(context.Background(), operator.ActionRetry, operator.Target{Provider: passbase.Name, SessionID: key}, "")
	if err != nil || r.Outcome != operator.OutcomeRetried {
		t.Fatalf("retry of the %s run: %+v, %v", status(t, c, id), r, err)
	}
	waitUser(t, st, user, "approved", 2*time.Minute) // past the processed grace
}

// The Web UI's "Terminate" on a session that holds an acknowledged
// decision: the operator's retry hands the terminated run's events on, and
// the approval answered 200 reaches the user.
func TestRetryOfATerminatedSessionKeepsItsDecision(t *testing.T) {
	st := graceStack(t)
	user := "terminate-user"
	key, id := heldPassbaseDecision(t, st, user)
	c := st.Temporal.GetDefaultClient()
	if err := c.TerminateWorkflow(context.Background(), id, "", "operator in the Web UI"); err != nil {
		t.Fatal(err)
	}
	r, err := st.Operator.Do(context.Background(), operator.ActionRetry, operator.Target{Provider: passbase.Name, SessionID: key}, "")
	if err != nil || r.Outcome != operator.OutcomeRetried {
		t.Fatalf("retry of the %s run: %+v, %v", status(t, c, id), r, err)
	}
	waitUser(t, st, user, "approved", 2*time.Minute) // past the processed grace
}

// The Web UI's "Reset" on a session's failed run (the run the operator
// sees as failed, in the session's list of runs), after a later webhook
// answered 200 started a new run: Temporal terminates the open run and
// builds the new one from the failed run, without the open run's
// approval (docs/operations.md says not to, and why). The operator's retry
// brings it back: it hands on the events of every run since the last
// completed one that ended before its end, the terminated one among them.
func TestRetryAfterAWebUIResetBringsBackTheWebhookItDropped(t *testing.T) {
	wf := shortSessions()
	wf.ProcessedGrace = 5 * time.Second
	wf.ActivityTimeout = 3 * time.Second
	st := faultStack(t, testkit.Options{Workflow: wf})
	user, created := "ui-reset-user", time.Now().Add(-10*time.Minute).UTC()
	key, post := failedPassbaseSession(t, st, user, created)
	c := st.Temporal.GetDefaultClient()
	id := workflows.WorkflowID(passbase.Name, key)
	failedRun := newestRun(t, c, id)
	// The approval, answered 200: a new run holds it (for the grace).
	post(passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", created, created.Add(5*time.Minute)))
	awaitNewRun(t, c, id, failedRun)
	ctx := context.Background()
	first := int64(0)
	it := c.GetWorkflowHistory(ctx, id, failedRun, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() && first == 0 {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			first = e.GetEventId()
		}
	}
	if _, err := c.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: st.Temporal.GetDefaultNamespace(), WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: failedRun},
		Reason: "Web UI reset", WorkflowTaskFinishEventId: first, RequestId: sim.NewUUID(),
	}); err != nil {
		t.Fatalf("reset: %v", err)
	}
	// The provider's API still says processing: only the webhook answered
	// 200 can approve the user.
	waitFor(t, "visibility to list the failed, the terminated and the reset run", 30*time.Second, func() bool { return listedRuns(t, st, id) >= 3 })
	if r, err := st.Operator.Do(ctx, operator.ActionRetry, operator.Target{Provider: passbase.Name, SessionID: key}, ""); err != nil || r.Outcome != operator.OutcomeRetried {
		t.Fatalf("retry: %+v, %v", r, err)
	}
	waitUser(t, st, user, "approved", 90*time.Second)
}

// listedRuns is how many runs of workflow id visibility lists.
func listedRuns(t *testing.T, st *testkit.Stack, id string) int {
	t.Helper()
	resp, err := st.Temporal.GetDefaultClient().ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: st.Temporal.GetDefaultNamespace(), Query: `WorkflowId = "` + id + `"`,
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.GetExecutions())
}

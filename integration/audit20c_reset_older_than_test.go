package integration

// Issue 20 third audit (regressions, against real Temporal): a reset
// session in the older_than listing and cancelling a closed operation;
// each failed before its fix.

import (
	"context"
	"net/http"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

func listedBy(t *testing.T, st *testkit.Stack, query, session string) bool {
	t.Helper()
	var out struct{ Sessions []operator.Session }
	if code := call(t, http.MethodGet, st.Admin.URL+"/v1/sessions?"+query, nil, &out); code != http.StatusOK {
		t.Fatalf("sessions?%s: %d", query, code)
	}
	for _, s := range out.Sessions {
		if s.SessionID == session {
			return true
		}
	}
	return false
}

// A session reset past its first workflow task (the bad-deploy runbook's
// reset by build id goes back to the first task the bad build completed)
// has a new open run whose visibility StartTime is the reset, and an old
// run closed as Terminated, not ContinuedAsNew. "waiting older than X"
// now asks visibility for StartTime < cutoff and looks for older runs only
// among ContinuedAsNew ones, so the session, waiting since long before the
// cutoff (its state query says so), drops out of the listing, and out of
// the outage runbook's bulk resync, until X has passed since the reset.
func TestAudit20cResetSessionDropsOutOfWaitingOlderThan(t *testing.T) {
	wf := shortSessions()
	wf.DecisionPollAfter = 24 * time.Hour
	st := faultStack(t, testkit.Options{Workflow: wf})
	tc := st.Temporal.GetDefaultClient()
	ctx := context.Background()
	session, attempt, user := sim.NewUUID(), sim.NewUUID(), "reset-user"
	began := time.Now()
	if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(session, attempt, user, veriff.Started))); c != http.StatusOK {
		t.Fatalf("started: %d", c)
	}
	time.Sleep(time.Second)
	if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(session, attempt, user, veriff.Submitted))); c != http.StatusOK {
		t.Fatalf("submitted: %d", c)
	}
	wid := workflows.WorkflowID(veriff.Name, session)
	// Wait until the session is 12s old: waiting older than 10s lists it.
	time.Sleep(time.Until(began.Add(12 * time.Second)))
	var before struct{ Sessions []operator.Session }
	waitListed(t, st, "state=waiting&older_than=10s", session, &before)

	// Reset to the run's last completed workflow task (as a reset by build
	// id does when the bad build completed a later task than the first).
	d, err := tc.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	it := tc.GetWorkflowHistory(ctx, wid, d.GetWorkflowExecutionInfo().GetExecution().GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			last = ev.GetEventId()
		}
	}
	resp, err := tc.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: st.Temporal.GetDefaultNamespace(), WorkflowExecution: d.GetWorkflowExecutionInfo().GetExecution(),
		Reason: "audit20c: bad deploy", WorkflowTaskFinishEventId: last, RequestId: "audit20c-" + session,
	})
	if err != nil {
		t.Fatal(err)
	}
	resetAt := time.Now()
	// The session is still open and waiting; its state says since when.
	var view struct{ Sessions []operator.Session }
	listed := false
	for time.Since(resetAt) < 6*time.Second && !listed {
		time.Sleep(500 * time.Millisecond)
		listed = listedBy(t, st, "state=waiting&older_than=10s", session)
	}
	call(t, http.MethodGet, st.Admin.URL+"/v1/sessions?state=waiting", nil, &view)
	var startedAt time.Time
	for _, s := range view.Sessions {
		if s.SessionID == session {
			startedAt = s.StartedAt
		}
	}
	if s := status(t, tc, wid); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("session after reset: %s", s)
	}
	var dry admin.DryRunView
	call(t, http.MethodPost, st.Admin.URL+"/v1/operations",
		admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, OlderThan: "10s", DryRun: true}, &dry)
	if !listed {
		t.Fatalf("session began %s ago (at %s; its state query: started %s), open and waiting after a reset (run %s), is not listed by state=waiting&older_than=10s (listed before the reset); the bulk dry run finds %d sessions",
			time.Since(began).Round(time.Second), began.UTC().Format(time.RFC3339), startedAt.Format(time.RFC3339), resp.GetRunId(), dry.Count)
	}
}

// Cancelling an operation that has already completed changes nothing; the
// fix meant it to "answer its state" from the NotFound branch. But server
// v1.32.1 answers RequestCancelWorkflowExecution on a closed run with
// success (a no-op, "the request to cancel this workflow is a success even
// if the target workflow has already finished"), so the handler writes a
// "cancel … requested" record to the audit trail for an operation nothing
// can cancel any more, one more for each repeat.
func TestAudit20cCancelOfACompletedOperationIsNotAuditedAsRequested(t *testing.T) {
	wf := shortSessions()
	wf.DecisionPollAfter = 24 * time.Hour
	st := faultStack(t, testkit.Options{Workflow: wf})
	lostDecision(t, st, "cancel-closed-user")
	dry := waitingDryRun(t, st, 1)
	var op admin.OperationView
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations",
		admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, Confirm: dry.Confirm}, &op); code != http.StatusAccepted {
		t.Fatalf("start: %d", code)
	}
	for deadline := time.Now().Add(30 * time.Second); op.State != operator.OperationCompleted; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("operation: %+v", op)
		}
		call(t, http.MethodGet, st.Admin.URL+"/v1/operations/"+op.ID, nil, &op)
	}
	codes := []int{}
	for range 2 {
		var after admin.OperationView
		codes = append(codes, call(t, http.MethodPost, st.Admin.URL+"/v1/operations/"+op.ID+"/cancel", nil, &after))
	}
	var records []admin.ActionView
	for _, a := range auditOf(t, st, "operation="+op.ID) {
		if a.Action == "cancel" {
			records = append(records, a)
		}
	}
	if len(records) != 0 {
		t.Fatalf("cancel of a completed operation answered %v, and the audit trail holds %d cancel records: %+v", codes, len(records), records)
	}
}

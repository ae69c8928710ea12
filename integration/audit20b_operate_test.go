package integration

// Issue 20 second audit (regressions), through the real receiver, worker
// and Temporal: each test shows a defect the audit found, fixed since.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// A Veriff session that got a non-final decision (resubmission_requested:
// R1, "the run waits for the next decision") and whose final decision
// webhook was then lost in an outage waits, open, for that decision; the
// provider's API has it. The outage runbook's listing (state=waiting)
// does not find it, and so the bulk resync's dry run cannot reach it:
// visibility's IdvStatus is the non-final status, and inspect drops any
// session with a decision.
func TestAudit20bWaitingAfterANonFinalDecisionIsListed(t *testing.T) {
	wf := shortSessions()
	wf.DecisionPollAfter = 24 * time.Hour
	st := faultStack(t, testkit.Options{Workflow: wf})
	session, attempt, user := sim.NewUUID(), sim.NewUUID(), "resubmitted-user"
	decided := time.Now().Add(-time.Minute).UTC()
	if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(session, attempt, user, "resubmission_requested", decided))); c != http.StatusOK {
		t.Fatalf("decision: %d", c)
	}
	waitUser(t, st, user, "resubmission_requested", 30*time.Second)
	final, _ := json.Marshal(veriff.Verification(session, sim.NewUUID(), user, "approved", decided.Add(30*time.Second)))
	st.Emulator.Put(veriff.Name, session, final) // the lost webhook's decision, at the API

	var dry admin.DryRunView
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		if code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations",
			admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, OlderThan: "1s", DryRun: true}, &dry); code != http.StatusOK {
			t.Fatalf("dry run: %d", code)
		}
		if dry.Count == 1 || time.Now().After(deadline) {
			break
		}
	}
	var listed struct{ Sessions []operator.Session }
	call(t, http.MethodGet, st.Admin.URL+"/v1/sessions?state=polling", nil, &listed)
	if s := status(t, st.Temporal.GetDefaultClient(), workflows.WorkflowID(veriff.Name, session)); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("the session must still be open, waiting for its final decision: %s", s)
	}
	if dry.Count != 1 {
		t.Fatalf("a session open and waiting for its final decision is not in the waiting dry run (%d listed; polling lists %d): a bulk resync after the outage leaves it", dry.Count, len(listed.Sessions))
	}
}

// The same confirmed bulk request sent twice while the operation runs is
// one operation (the id is the token). Before the fixes the second
// answered 202 as a new start and wrote a second "started" audit record
// (the SDK returned the running workflow without an error), and, once the
// operation had made progress, 409 (the selection had changed).
func TestAudit20bRepeatedBulkStartIsOneAuditedStart(t *testing.T) {
	wf := shortSessions()
	wf.DecisionPollAfter = 24 * time.Hour
	st := faultStack(t, testkit.Options{Workflow: wf})
	for i := range 3 {
		lostDecision(t, st, fmt.Sprintf("rep-%d", i))
	}
	dry := waitingDryRun(t, st, 3)
	req := admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, Confirm: dry.Confirm, RatePerSecond: 1}
	var first, second admin.OperationView
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations", req, &first); code != http.StatusAccepted {
		t.Fatalf("start: %d", code)
	}
	// The operator's retry, once the operation has done some of its work
	// (so the selection is not what it was confirmed on any more).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var p admin.OperationView
		if call(t, http.MethodGet, st.Admin.URL+"/v1/operations/"+first.ID, nil, &p); p.Done >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the operation did no work")
		}
	}
	code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations", req, &second)
	starts := 0
	for _, a := range auditOf(t, st, "operation="+first.ID) {
		if a.Action == "bulk-resync" && a.Outcome == "started" {
			starts++
		}
	}
	if second.ID != first.ID {
		t.Fatalf("second request started another operation: %s, %s", first.ID, second.ID)
	}
	if starts != 1 || code != http.StatusOK {
		t.Fatalf("one operation, but the repeat answered %d (want 200 with its progress) and the audit trail holds %d \"started\" records", code, starts)
	}
}

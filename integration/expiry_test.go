package integration

// R8 when a session's first workflow task runs well after its start event
// (the worker down, or an operator's retry): the session must still ask
// the provider's API before it expires. A change that dates the expiry by
// the start event must date the poll delay the same way.

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// A Veriff "started"
// webhook starts the session (SignalWithStart) while no worker runs; its
// decision webhook is lost and the provider's API has the approval. The
// worker comes back 8 s later, with 2 s of the session's 10 s still left
// and the 3 s poll delay long past. R8: "without one [a decision] for
// IDV_DECISION_POLL_AFTER it asks the provider's API ... at
// IDV_SESSION_EXPIRY ... it ends the session expired". A run that dated the
// expiry by the start event (10 s) but the poll delay by its first task
// (8 s + 3 s = 11 s) would wait until the expiry and mark the user expired
// without asking the provider once.
func TestLateFirstTaskStillPollsBeforeExpiry(t *testing.T) {
	wf := shortSessions()
	wf.SessionExpiry = 10 * time.Second
	wf.DecisionPollAfter = 3 * time.Second
	wf.PollInterval, wf.PollMaxInterval = time.Second, 2*time.Second
	wf.ActivityTimeout = 3 * time.Second
	st := faultStack(t, testkit.Options{Workflow: wf, NoWorker: true})

	id, attempt, user := sim.NewUUID(), sim.NewUUID(), "late-first-task-user"
	v, _ := json.Marshal(veriff.Verification(id, attempt, user, "approved", time.Now().Add(-time.Second)))
	st.Emulator.Put(veriff.Name, id, v) // the lost webhook's decision, at the API
	if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(id, attempt, user, veriff.Started))); c != http.StatusOK {
		t.Fatalf("started: %d", c)
	}
	time.Sleep(8 * time.Second) // the worker is down
	st.StartWorker(time.Second)

	wid := workflows.WorkflowID(veriff.Name, id)
	if err := st.WaitClosed(context.Background(), wid, time.Minute); err != nil {
		t.Fatal(err)
	}
	var u struct{ Status string }
	getJSON(t, st.Admin.URL+"/v1/users/"+user, adminToken, &u)
	if calls := st.Emulator.Calls(id); calls == 0 || u.Status != "approved" {
		t.Fatalf("user %q after %d calls to the provider's API; want the approval found by polling (R8: no decision for IDV_DECISION_POLL_AFTER, ask the API before IDV_SESSION_EXPIRY)", u.Status, calls)
	}
}

// The same holds for a run started by an operator's retry: a Veriff
// session whose
// decision webhook is lost fails on its first poll (the API key was wrong:
// 401, permanent, R8 "ends the session error"); the key is fixed and the
// operator retries it with 1 s of its 12 s left. A retried run that kept
// the session's expiry but counted its 2 s poll delay from the retry would
// expire the user without asking the now-working API, which has the
// approval: it must poll and find it.
func TestRetryNearExpiryStillPollsBeforeExpiry(t *testing.T) {
	wf := shortSessions()
	wf.SessionExpiry = 12 * time.Second
	wf.DecisionPollAfter = 2 * time.Second
	wf.PollInterval, wf.PollMaxInterval = time.Second, 2*time.Second
	wf.ActivityTimeout = 3 * time.Second
	st := faultStack(t, testkit.Options{Workflow: wf})

	id, attempt, user := sim.NewUUID(), sim.NewUUID(), "retry-near-expiry-user"
	v, _ := json.Marshal(veriff.Verification(id, attempt, user, "approved", time.Now().Add(-time.Second)))
	st.Emulator.Put(veriff.Name, id, v)
	st.Emulator.FailNext(id, emulator.Fault{Status: 401}) // the wrong key, for the first poll
	began := time.Now()
	if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(id, attempt, user, veriff.Started))); c != http.StatusOK {
		t.Fatalf("started: %d", c)
	}
	wid := workflows.WorkflowID(veriff.Name, id)
	if err := st.WaitClosed(context.Background(), wid, time.Minute); err != nil {
		t.Fatal(err)
	}
	if s := status(t, st.Temporal.GetDefaultClient(), wid); s != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		t.Fatalf("session after the 401: %s, want failed", s)
	}
	calls := st.Emulator.Calls(id)
	time.Sleep(time.Until(began.Add(11 * time.Second)))
	var r operator.Result
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/sessions/veriff/"+id+"/retry", nil, &r); code != http.StatusOK || r.Outcome != operator.OutcomeRetried {
		t.Fatalf("retry: %d %+v", code, r)
	}
	time.Sleep(time.Second) // the reset's new run opens
	if err := st.WaitClosed(context.Background(), wid, time.Minute); err != nil {
		t.Fatal(err)
	}
	var u struct{ Status string }
	getJSON(t, st.Admin.URL+"/v1/users/"+user, adminToken, &u)
	if after := st.Emulator.Calls(id) - calls; after == 0 || u.Status != "approved" {
		t.Fatalf("retried session: user %q after %d calls to the provider's API since the retry; want the approval found by polling", u.Status, after)
	}
}

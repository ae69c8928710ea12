package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"

	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// docs/semantics.md R8: a webhook whose signal lands in the same workflow
// task as the timer that ends the run is read before the run closes. The
// worker is down while the late-event window's timer fires, the webhook
// comes then (200: Temporal has it), and the next worker gets one task with
// both: the run must apply the decision, not complete without it.
func TestR8SignalInTheRunsLastTask(t *testing.T) {
	wf := workflows.DefaultConfig()
	wf.LateEventWindow = 2 * time.Second
	st := faultStack(t, testkit.Options{NoWorker: true, Workflow: wf})
	ctx := context.Background()

	id, user := sim.NewUUID(), "closing-user"
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	post := func(status string, at time.Time) {
		body := veriff.DecisionBody(id, sim.NewUUID(), user, status, at)
		d := veriffDelivery(veriffKey, veriffSecret, body)
		if code := send(t, st.Receiver.URL, d); code != http.StatusOK {
			t.Fatalf("%s: %d", status, code)
		}
	}

	w1 := st.StartWorker(0)
	post("approved", t0)
	wid := workflows.WorkflowID(veriff.Name, id)
	c := st.Temporal.GetDefaultClient()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := c.QueryWorkflow(ctx, wid, "", workflows.QueryState)
		var s workflows.SessionState
		if err == nil && v.Get(&s) == nil && strings.HasPrefix(s.NextStep, "absorb late events") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session never reached its late-event window: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w1.Stop()
	time.Sleep(wf.LateEventWindow + time.Second) // the window's timer fires; no worker takes the task
	post("declined", t0.Add(time.Minute))        // its signal joins that task
	st.StartWorker(10 * time.Second)

	if err := st.WaitClosed(ctx, wid, time.Minute); err != nil {
		t.Fatal(err)
	}
	u, err := st.Users.Get(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range u.History {
		got = append(got, h.Status)
	}
	if u.Status != "declined" || strings.Join(got, ",") != "approved,declined" {
		t.Fatalf("user %s with history %v: the webhook acknowledged with 200 in the run's last task was lost", u.Status, got)
	}
}

// R8, a new run asks the store before it waits: a progress event that comes
// after its session's run closed on a decision (late, or redelivered after
// Temporal was unreachable) starts a run that finds the decision in the
// store, writes nothing new, and closes at once: no timer for a decision
// webhook or a poll, never listed as waiting, the user still approved.
// (Before, that run showed IdvStatus "waiting" and held a 1 h timer.)
func TestLateEventAfterTheDecisionDoesNotReopenTheSession(t *testing.T) {
	st := faultStack(t, testkit.Options{})
	ctx := context.Background()
	id, attempt, user := sim.NewUUID(), sim.NewUUID(), "late-started-user"
	st.Emulator.Put(veriff.Name, id, nil)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(id, attempt, user, "approved", time.Now().UTC()))); code != http.StatusOK {
		t.Fatalf("decision: %d", code)
	}
	wid := workflows.WorkflowID(veriff.Name, id)
	if err := st.WaitClosed(ctx, wid, time.Minute); err != nil {
		t.Fatal(err)
	}
	c := st.Temporal.GetDefaultClient()
	decided := newestRun(t, c, wid)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(id, attempt, user, veriff.Started))); code != http.StatusOK {
		t.Fatalf("started: %d", code)
	}
	awaitNewRun(t, c, wid, decided)
	if err := st.WaitClosed(ctx, wid, 30*time.Second); err != nil {
		t.Fatalf("the late event's run: %v", err)
	}
	if hasEvent(ctx, c, wid, enumspb.EVENT_TYPE_TIMER_STARTED) {
		t.Fatal("the late event's run started a timer (a wait for a decision the store holds)")
	}
	d, err := c.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		t.Fatal(err)
	}
	var status string
	if p := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[workflows.AttrStatus.GetName()]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &status)
	}
	if got := d.GetWorkflowExecutionInfo().GetStatus(); got != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || status != "approved" {
		t.Fatalf("the late event's run: %s with IdvStatus %q, want completed and approved", got, status)
	}
	if listedBy(t, st, "state=waiting&provider=veriff", id) {
		t.Fatal("the decided session is listed as waiting")
	}
	waitUser(t, st, user, "approved", time.Second)
	if n := applied(t, st, user, "approved"); n != 1 {
		t.Fatalf("approved applied %d times, want once", n)
	}
}

package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

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

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// onboardingFlow is a short-lived session for these tests: no poll, a
// late-event window of two seconds.
func onboardingFlow() workflows.Config {
	wf := workflows.DefaultConfig()
	wf.LateEventWindow = 2 * time.Second
	return wf
}

// waitUser polls the admin API until the user's record has status.
func waitUser(t *testing.T, st *testkit.Stack, user, status string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var u admin.UserView
	for {
		if code := getJSON(t, st.Admin.URL+"/v1/users/"+user, adminToken, &u); code == http.StatusOK && u.Status == status {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("user %s is %q after %s, want %s", user, u.Status, limit, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// workflowTasks counts the workflow tasks of a closed session's runs.
func workflowTasks(t *testing.T, st *testkit.Stack, sessionID string) int {
	t.Helper()
	ctx := context.Background()
	id := workflows.WorkflowID(veriff.Name, sessionID)
	if err := st.WaitClosed(ctx, id, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	n := 0
	it := st.Temporal.GetDefaultClient().GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			n++
		}
	}
	return n
}

// decideTwice sends a session's approval, waits for it on the record, then
// a re-review's decline, and says how long the decline took to reach the
// record after its 200.
func decideTwice(t *testing.T, st *testkit.Stack, user, sessionID string) time.Duration {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	st.Emulator.Put(veriff.Name, sessionID, nil)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", now))); code != http.StatusOK {
		t.Fatalf("approval: %d", code)
	}
	waitUser(t, st, user, "approved", 20*time.Second)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "declined", now.Add(time.Second)))); code != http.StatusOK {
		t.Fatalf("decline: %d", code)
	}
	return waitUser(t, st, user, "declined", 20*time.Second)
}

// Issue 22, black-box: with IDV_NOTIFY_URL answering 503, a newer decision
// reaches the record within seconds, in as many workflow tasks as with the
// app up; once the app is back, both notifications arrive, in the
// record's order, each once.
func TestAppDownNeverHoldsTheRecord(t *testing.T) {
	st := startStack(t, onboardingFlow())

	// The app up: the budget.
	decideTwice(t, st, "user-app-up", "0d0d0d0d-0000-4000-8000-000000000001")
	up := workflowTasks(t, st, "0d0d0d0d-0000-4000-8000-000000000001")

	st.AppDown.Store(true)
	user, sessionID := "user-app-down", "0d0d0d0d-0000-4000-8000-000000000002"
	took := decideTwice(t, st, user, sessionID)
	if took > 5*time.Second {
		t.Fatalf("the decline reached the record %s after its 200, with the app down", took)
	}
	down := workflowTasks(t, st, sessionID)
	// One more task at most: two webhooks a second apart may be read in
	// one task or two, whatever the app does.
	if down > up+1 {
		t.Fatalf("the session took %d workflow tasks with the app down, %d with it up", down, up)
	}
	if n := st.Notifications(user); len(n) != 0 {
		t.Fatalf("notifications %+v while the app was down", n)
	}

	st.AppDown.Store(false)
	deadline := time.Now().Add(90 * time.Second)
	for len(st.Notifications(user)) < 2 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // a third would come now
	got := st.Notifications(user)
	if len(got) != 2 || got[0].Data.Status != "approved" || got[1].Data.Status != "declined" || got[0].WebhookID == got[1].WebhookID {
		t.Fatalf("notifications %+v; want the approval, then the decline, once each", got)
	}
	t.Logf("decline on the record %s after its 200 with the app down; %d workflow tasks (%d with the app up)", took, down, up)
}

func postJSON(t *testing.T, url, token string, body, v any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

// docs/extending.md's review gate, through the production receiver,
// worker and admin API: an approval waits at the gate (the record says
// approved meanwhile) until an operator answers with POST
// /v1/onboarding/{user}/review; wrong answers get a clear 4xx.
func TestReviewGateThroughTheAdminAPI(t *testing.T) {
	st, err := testkit.Start(context.Background(), testkit.Options{
		Workflow: onboardingFlow(), T: t, Env: map[string]string{"IDV_REVIEW_STATUSES": "approved"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	user, sessionID := "user-review-gate", "0e0e0e0e-0000-4000-8000-000000000001"
	st.Emulator.Put(veriff.Name, sessionID, nil)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", time.Now().UTC()))); code != http.StatusOK {
		t.Fatalf("approval: %d", code)
	}
	waitUser(t, st, user, "approved", 20*time.Second)

	var ob onboarding.State
	deadline := time.Now().Add(20 * time.Second)
	for ob.Waiting != onboarding.StepReview {
		if time.Now().After(deadline) {
			t.Fatalf("onboarding %+v: never waited for review", ob)
		}
		getJSON(t, st.Admin.URL+"/v1/onboarding/"+user, adminToken, &ob)
		time.Sleep(100 * time.Millisecond)
	}
	if ob.Current == nil || ob.Current.Status != "approved" {
		t.Fatalf("onboarding %+v", ob)
	}
	url := st.Admin.URL + "/v1/onboarding/" + user + "/review"
	var refusal struct{ Error string }
	if code := postJSON(t, url, adminToken, onboarding.Review{ChangeID: ob.Current.ID, Outcome: "ok"}, &refusal); code != http.StatusBadRequest || refusal.Error == "" {
		t.Fatalf("an answer without reviewer and with outcome ok: %d %q, want 400 with a reason", code, refusal.Error)
	}
	if code := postJSON(t, url, adminToken, onboarding.Review{ChangeID: "nope", Outcome: onboarding.ReviewPassed, Reviewer: "officer-7"}, &refusal); code != http.StatusConflict || refusal.Error == "" {
		t.Fatalf("an answer for another change: %d %q, want 409 with a reason", code, refusal.Error)
	}
	if n := st.Notifications(user); len(n) != 0 {
		t.Fatalf("the app heard of the approval before the review: %+v", n)
	}
	var after onboarding.State
	if code := postJSON(t, url, adminToken, onboarding.Review{ChangeID: ob.Current.ID, Outcome: onboarding.ReviewPassed, Reviewer: "officer-7"}, &after); code != http.StatusOK {
		t.Fatalf("the review: %d", code)
	}
	deadline = time.Now().Add(20 * time.Second)
	for len(st.Notifications(user)) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := st.Notifications(user); len(n) != 1 || n[0].Data.Status != "approved" || n[0].WebhookID != "msg_"+ob.Current.ID {
		t.Fatalf("notifications %+v; want the approval once, named by its change", n)
	}
}

// lostAck is the real hand-over whose first answer never reaches ApplyAndHandOver:
// the SignalWithStart landed, but the activity attempt then fails before
// MarkHanded (the RPC's answer lost to a timeout, the worker killed, or
// the database down for MarkHanded), and Temporal retries the activity
// only after the onboarding run took the change, ran its steps and closed
// for IDV_ONBOARDING_IDLE. (Here the first attempt itself waits for that
// close, to make the window deterministic; with the default 10m idle it is
// a store outage longer than 10 minutes after the signal.)
type lostAck struct {
	inner activities.Onboarder
	c     client.Client
	calls atomic.Int32
}

func (l *lostAck) Hand(ctx context.Context, userRef string, ch onboarding.Change) error {
	if err := l.inner.Hand(ctx, userRef, ch); err != nil {
		return err
	}
	if l.calls.Add(1) > 1 {
		return nil
	}
	id := onboarding.WorkflowID(userRef)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d, err := l.c.DescribeWorkflowExecution(ctx, id, "")
		if err == nil && d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("signal with start: context deadline exceeded (the answer was lost)")
}

// R11 "a hand-over retried after it landed (the activity's attempt failed
// after the signal) is dropped by the onboarding"; nothing is applied
// twice. That holds after the run that took the change has closed
// (IDV_ONBOARDING_IDLE): the retried hand-over starts a new run, whose seen
// set is empty, and still the change's steps do not run again: the app is
// notified once.
func TestOnboardingDropsAHandOverRetriedAfterTheRunClosed(t *testing.T) {
	st, err := testkit.Start(context.Background(), testkit.Options{
		Workflow: onboardingFlow(), T: t, Env: map[string]string{"IDV_ONBOARDING_IDLE": "1s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	la := &lostAck{inner: st.Activities.Onboarding, c: st.Temporal.GetDefaultClient()}
	st.Activities.Onboarding = la

	user, sessionID := "user-lost-ack", "0a0d0d0d-0000-4000-8000-0000000000a1"
	st.Emulator.Put(veriff.Name, sessionID, nil)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", now))); code != http.StatusOK {
		t.Fatalf("approval: %d", code)
	}
	waitUser(t, st, user, "approved", 20*time.Second)
	waitFor(t, "the retried hand-over", 60*time.Second, func() bool { return la.calls.Load() >= 2 })
	time.Sleep(3 * time.Second) // the second onboarding run's steps
	got := st.Notifications(user)
	if len(got) != 1 {
		t.Fatalf("R11: the approval was notified %d times (%+v); a retried hand-over must start no steps", len(got), got)
	}
}

// R11 / R8 for the onboarding: a hand-over whose signal comes in the same
// workflow task as the idle timer that closes the run is read and its
// steps run (the SDK hands such a signal to the listener's pending
// Receive, so the run yields once before it closes).
func TestOnboardingReadsAHandOverThatCameWithItsLastTask(t *testing.T) {
	wf := onboardingFlow()
	st := faultStack(t, testkit.Options{NoWorker: true, Workflow: wf, Env: map[string]string{"IDV_ONBOARDING_IDLE": "3s"}})
	ctx := context.Background()
	id, user := sim.NewUUID(), "onb-closing-user"
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	w1 := st.StartWorker(0)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(id, sim.NewUUID(), user, "approved", t0))); code != http.StatusOK {
		t.Fatal(code)
	}
	for deadline := time.Now().Add(30 * time.Second); len(st.Notifications(user)) < 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("approval never notified")
		}
	}
	wid := onboarding.WorkflowID(st.Activities.UserRef.Value(user))
	c := st.Temporal.GetDefaultClient()
	// The run is at its idle wait; then, with no worker, its idle timer
	// fires and the task that would close the run waits for a worker.
	waitFor(t, "the idle timer", 30*time.Second, func() bool { return hasEvent(ctx, c, wid, enumspb.EVENT_TYPE_TIMER_STARTED) })
	w1.Stop()
	waitFor(t, "the idle timer to fire", 30*time.Second, func() bool { return hasEvent(ctx, c, wid, enumspb.EVENT_TYPE_TIMER_FIRED) })
	// Another session's decline, handed over (what ApplyAndHandOver signals).
	ch := onboarding.Change{ID: "c2-decline", UserID: user, Provider: veriff.Name, SessionID: "s2", Status: "declined", At: t0.Add(time.Minute), Verdict: true}
	if err := c.SignalWorkflow(ctx, wid, "", onboarding.SignalChange, ch); err != nil {
		t.Fatalf("hand-over: %v", err) // the running run took it: the store marks it handed
	}
	st.StartWorker(10 * time.Second)
	if err := st.WaitClosed(ctx, wid, time.Minute); err != nil {
		t.Fatal(err)
	}
	got := st.Notifications(user)
	if len(got) != 2 {
		t.Fatalf("app heard of %d changes, want 2 (the approval and the decline handed over in the run's last task): %+v", len(got), got)
	}
}

// hasEvent reports whether the current run of workflow wid has an event of
// type et in its history.
func hasEvent(ctx context.Context, c client.Client, wid string, et enumspb.EventType) bool {
	it := c.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return false
		}
		if e.GetEventType() == et {
			return true
		}
	}
	return false
}

// R11, the take's identity: an onboarding reset while its notify step
// retries (the Web UI's reset, or a bad-deploy batch reset) starts a run
// that takes the change again; the change is the onboarding's (its
// workflow id, which the reset keeps) and its steps have not all run, so
// the new run runs them and the app hears of the approval, once.
func TestResetOnboardingRunsTheStepsOfTheChangeItHeld(t *testing.T) {
	st := faultStack(t, testkit.Options{Workflow: onboardingFlow(), Env: map[string]string{"IDV_ONBOARDING_IDLE": "2s"}})
	st.AppDown.Store(true)
	user, sessionID := "user-onboarding-reset", sim.NewUUID()
	st.Emulator.Put(veriff.Name, sessionID, nil)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", time.Now().UTC()))); code != http.StatusOK {
		t.Fatalf("approval: %d", code)
	}
	waitUser(t, st, user, "approved", 20*time.Second)
	ctx := context.Background()
	c := st.Temporal.GetDefaultClient()
	wid := onboarding.WorkflowID(st.Activities.UserRef.Value(user))
	notifyRetrying(t, st, wid)
	d, err := c.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		t.Fatal(err)
	}
	first := firstEvent(ctx, t, c, wid, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
	if _, err := c.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: st.Temporal.GetDefaultNamespace(), WorkflowExecution: d.GetWorkflowExecutionInfo().GetExecution(),
		Reason: "bad deploy", WorkflowTaskFinishEventId: first, RequestId: sim.NewUUID(),
	}); err != nil {
		t.Fatal(err)
	}
	st.AppDown.Store(false)
	waitFor(t, "the approval at the app", 90*time.Second, func() bool { return len(st.Notifications(user)) > 0 })
	if err := st.WaitClosed(ctx, wid, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := st.Notifications(user); len(got) != 1 || got[0].Data.Status != "approved" {
		t.Fatalf("notifications %+v; want the approval once", got)
	}
}

// firstEvent is the id of the first event of type et in workflow wid's
// current run.
func firstEvent(ctx context.Context, t *testing.T, c client.Client, wid string, et enumspb.EventType) int64 {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.GetEventType() == et {
			return e.GetEventId()
		}
	}
	t.Fatalf("%s has no %s event", wid, et)
	return 0
}

// notifyRetrying waits until the onboarding wid's notify step has failed
// at least once (the app is down).
func notifyRetrying(t *testing.T, st *testkit.Stack, wid string) {
	t.Helper()
	c := st.Temporal.GetDefaultClient()
	waitFor(t, "the notify step retrying", 60*time.Second, func() bool {
		d, err := c.DescribeWorkflowExecution(context.Background(), wid, "")
		if err != nil {
			return false
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetActivityType().GetName() == "NotifyApp" && a.GetAttempt() >= 2 {
				return true
			}
		}
		return false
	})
}

// R11: a terminated onboarding run drops what it held, never the store.
// An approval's notify step retries while the app is down; an operator
// terminates the run (the Web UI's Terminate). The user's next change, a
// decline from a later session, starts a new run that takes the approval
// in first: the app hears of the approval, then the decline, once each.
// For a user with no next change, `idvctl onboarding retry` (POST
// /v1/onboarding/{user}/retry) hands the store's owed changes again, and a
// second retry finds nothing to retry.
func TestTerminatedOnboardingRunsWhatItHeld(t *testing.T) {
	st := faultStack(t, testkit.Options{Workflow: onboardingFlow(), Env: map[string]string{"IDV_ONBOARDING_IDLE": "2s"}})
	ctx := context.Background()
	c := st.Temporal.GetDefaultClient()
	decide := func(user, sessionID, status string, at time.Time) {
		t.Helper()
		st.Emulator.Put(veriff.Name, sessionID, nil)
		if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, status, at))); code != http.StatusOK {
			t.Fatalf("%s: %d", status, code)
		}
		waitUser(t, st, user, status, 20*time.Second)
	}
	terminate := func(user string) {
		t.Helper()
		wid := onboarding.WorkflowID(st.Activities.UserRef.Value(user))
		notifyRetrying(t, st, wid)
		if err := c.TerminateWorkflow(ctx, wid, "", "operator"); err != nil {
			t.Fatal(err)
		}
	}
	statuses := func(user string) []string {
		var out []string
		for _, n := range st.Notifications(user) {
			out = append(out, n.Data.Status)
		}
		return out
	}

	// The user's next change starts the run that takes the approval in.
	st.AppDown.Store(true)
	user, now := "user-onboarding-terminated", time.Now().UTC().Truncate(time.Millisecond)
	decide(user, sim.NewUUID(), "approved", now)
	terminate(user)
	st.AppDown.Store(false)
	decide(user, sim.NewUUID(), "declined", now.Add(time.Second))
	waitFor(t, "both at the app", 60*time.Second, func() bool { return len(st.Notifications(user)) >= 2 })
	if err := st.WaitClosed(ctx, onboarding.WorkflowID(st.Activities.UserRef.Value(user)), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := statuses(user); len(got) != 2 || got[0] != "approved" || got[1] != "declined" {
		t.Fatalf("the app heard %v; want the approval, then the decline, once each", got)
	}

	// No next change: the operator's retry.
	st.AppDown.Store(true)
	quiet := "user-onboarding-terminated-quiet"
	decide(quiet, sim.NewUUID(), "approved", now)
	terminate(quiet)
	st.AppDown.Store(false)
	var r admin.OnboardingRetryView
	if code := postJSON(t, st.Admin.URL+"/v1/onboarding/"+quiet+"/retry", adminToken, struct{}{}, &r); code != http.StatusOK || r.Outcome != "handed" || r.Handed != 1 {
		t.Fatalf("retry: %d %+v; want the approval handed again", code, r)
	}
	waitFor(t, "the approval at the app", 60*time.Second, func() bool { return len(st.Notifications(quiet)) > 0 })
	if err := st.WaitClosed(ctx, onboarding.WorkflowID(st.Activities.UserRef.Value(quiet)), time.Minute); err != nil {
		t.Fatal(err)
	}
	if code := postJSON(t, st.Admin.URL+"/v1/onboarding/"+quiet+"/retry", adminToken, struct{}{}, &r); code != http.StatusOK || r.Outcome != "nothing_to_retry" {
		t.Fatalf("second retry: %d %+v; want nothing to retry", code, r)
	}
	if got := statuses(quiet); len(got) != 1 || got[0] != "approved" {
		t.Fatalf("the app heard %v; want the approval once", got)
	}
}

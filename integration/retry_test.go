package integration

// An operator's retry of a failed session, raced against the webhooks that
// keep arriving (docs/operations.md "Retry a failed session"): whatever
// moment a webhook comes, the receiver's 200 holds, and two retries of one
// session at once do its work once.

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// describeThen runs hook once, right after the operator has described the
// session: the moment between reading the failed run and acting on it.
type describeThen struct {
	client.Client
	once *sync.Once
	hook func()
}

func (d describeThen) DescribeWorkflowExecution(ctx context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	r, err := d.Client.DescribeWorkflowExecution(ctx, id, runID)
	d.once.Do(d.hook)
	return r, err
}

// postPassbase sends a Passbase webhook body, encrypted as Passbase does,
// to the real receiver, which must answer 200.
func postPassbase(t *testing.T, st *testkit.Stack, plain []byte) {
	t.Helper()
	body, err := passbase.Encrypt(passbaseSecret, plain)
	if err != nil {
		t.Fatal(err)
	}
	if code := send(t, st.Receiver.URL, delivery{"/webhooks/passbase", "text/plain", nil, body}); code != http.StatusOK {
		t.Fatalf("webhook: %d, want 200", code)
	}
}

// failedPassbaseSession runs a Passbase session into error (the provider's
// API does not know the identity: 404, permanent), then fixes the provider
// side (the identity exists, still processing) and returns the session's
// key and a function that posts a webhook body to the real receiver.
func failedPassbaseSession(t *testing.T, st *testkit.Stack, user string, created time.Time) (string, func([]byte)) {
	t.Helper()
	key := sim.NewUUID()
	post := func(plain []byte) { postPassbase(t, st, plain) }
	failedRun(t, st, key, passbase.ProcessedBody(passbase.VocabularyNew, key, "", "pending", created, created.Add(time.Minute)))
	st.Emulator.Put(passbase.Name, key, passbase.IdentityObject(key, user, "processing", created, created.Add(time.Minute)))
	return key, post
}

// failedRun posts plain, a Passbase webhook of session key whose identity
// the provider's API does not know (404), waits for the run it starts to
// fail, and returns that run's id.
func failedRun(t *testing.T, st *testkit.Stack, key string, plain []byte) string {
	t.Helper()
	postPassbase(t, st, plain)
	id := workflows.WorkflowID(passbase.Name, key)
	if err := st.WaitClosed(context.Background(), id, time.Minute); err != nil {
		t.Fatal(err)
	}
	c := st.Temporal.GetDefaultClient()
	if s := status(t, c, id); s != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		t.Fatalf("first run: %s, want failed", s)
	}
	return newestRun(t, c, id)
}

// retrier is the operator the retry tests act with, on st's server.
func retrier(st *testkit.Stack) *operator.Operator {
	return &operator.Operator{Temporal: st.Temporal.GetDefaultClient(), Namespace: st.Temporal.GetDefaultNamespace(),
		TaskQueue: testkit.TaskQueue, Log: slog.New(slog.DiscardHandler), Audit: st.Users}
}

// awaitNewRun waits until the session's newest run is not failedRun.
func awaitNewRun(t *testing.T, c client.Client, id, failedRun string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if d, err := c.DescribeWorkflowExecution(context.Background(), id, ""); err == nil && d.GetWorkflowExecutionInfo().GetExecution().GetRunId() != failedRun {
			return
		}
	}
	t.Fatal("the webhook started no new run")
}

func newestRun(t *testing.T, c client.Client, id string) string {
	t.Helper()
	d, err := c.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	return d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

// runsOf lists every run of workflow id once visibility holds want runs
// and none is open; it fails the test if that does not come.
func runsOf(t *testing.T, st *testkit.Stack, id string, want int) map[string]enumspb.WorkflowExecutionStatus {
	t.Helper()
	c := st.Temporal.GetDefaultClient()
	var got map[string]enumspb.WorkflowExecutionStatus
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: st.Temporal.GetDefaultNamespace(), Query: `WorkflowId = "` + id + `"`,
		})
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]enumspb.WorkflowExecutionStatus{}
		open := false
		for _, e := range resp.GetExecutions() {
			got[e.GetExecution().GetRunId()] = e.GetStatus()
			open = open || e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		}
		if len(got) >= want && !open {
			return got
		}
	}
	t.Fatalf("runs of %s: %v, want %d closed", id, got, want)
	return nil
}

// A webhook answered 200 between the operator's look at the failed run and
// the retry's action starts a new run; the retry hands the failed run's
// events to that run instead of replacing it, and the approval is applied,
// once.
func TestRetryKeepsAWebhookThatArrivesWhileItRuns(t *testing.T) {
	st := faultStack(t, testkit.Options{})
	user, created := "retry-race-user", time.Now().Add(-10*time.Minute).UTC()
	key, post := failedPassbaseSession(t, st, user, created)
	c := st.Temporal.GetDefaultClient()
	id := workflows.WorkflowID(passbase.Name, key)
	failedRun := newestRun(t, c, id)

	hook := func() {
		post(passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", created, created.Add(5*time.Minute)))
		awaitNewRun(t, c, id, failedRun)
	}
	op := &operator.Operator{Temporal: describeThen{c, &sync.Once{}, hook}, Namespace: st.Temporal.GetDefaultNamespace(),
		TaskQueue: testkit.TaskQueue, Log: slog.New(slog.DiscardHandler), Audit: st.Users}
	r, err := op.Do(context.Background(), operator.ActionRetry, operator.Target{Provider: passbase.Name, SessionID: key}, "")
	if err != nil || r.Outcome != operator.OutcomeRetried {
		t.Fatalf("retry: %+v, %v", r, err)
	}
	waitUser(t, st, user, "approved", time.Minute)
	for runID, s := range runsOf(t, st, id, 2) {
		if s == enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
			t.Fatalf("run %s was terminated: the retry replaced the run the webhook started", runID)
		}
	}
	if n := applied(t, st, user, "approved"); n != 1 {
		t.Fatalf("approved applied %d times, want once", n)
	}
}

// Two retries of one failed session at once (an operator's, and a bulk
// retry that lists the same session) hand the same events to the same run:
// one new run, nothing terminated, and a webhook that came between them
// kept.
func TestConcurrentRetriesOfOneSessionStartOneRun(t *testing.T) {
	st := faultStack(t, testkit.Options{})
	user, created := "retry-twice-user", time.Now().Add(-10*time.Minute).UTC()
	key, post := failedPassbaseSession(t, st, user, created)
	c := st.Temporal.GetDefaultClient()
	id := workflows.WorkflowID(passbase.Name, key)
	target := operator.Target{Provider: passbase.Name, SessionID: key}
	plain := retrier(st)

	var second operator.Result
	hook := func() {
		// The other retry does all its work while the first looks on.
		var err error
		if second, err = plain.Do(context.Background(), operator.ActionRetry, target, "bulk"); err != nil {
			t.Error(err)
		}
		post(passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", created, created.Add(5*time.Minute)))
	}
	first := *plain
	first.Temporal = describeThen{c, &sync.Once{}, hook}
	r, err := first.Do(context.Background(), operator.ActionRetry, target, "")
	if err != nil || r.Outcome != operator.OutcomeRetried || second.Outcome != operator.OutcomeRetried {
		t.Fatalf("retries: %+v and %+v (%v); want both to hand the failed run's events over", r, second, err)
	}
	waitUser(t, st, user, "approved", time.Minute)
	runs := runsOf(t, st, id, 2)
	for runID, s := range runs {
		if s == enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
			t.Fatalf("run %s was terminated by the other retry (runs %v)", runID, runs)
		}
	}
	if len(runs) != 2 {
		t.Fatalf("runs %v: want the failed run and one new run", runs)
	}
	if n := applied(t, st, user, "approved"); n != 1 {
		t.Fatalf("approved applied %d times, want once", n)
	}
}

// terminateThen runs hook once, right after the operator's terminate: the
// moment between closing the open run and reading what it held.
type terminateThen struct {
	client.Client
	once *sync.Once
	hook func()
}

func (d terminateThen) TerminateWorkflow(ctx context.Context, id, runID, reason string, details ...any) error {
	err := d.Client.TerminateWorkflow(ctx, id, runID, reason, details...)
	d.once.Do(d.hook)
	return err
}

// The bad-deploy runbook's restart of an open session: a webhook that
// reached the run before the restart closed it, and one that came right
// after (and started the next run), both reach the record: the restart
// reads the closed run's whole history and hands its events to the run
// that is open.
func TestRestartKeepsTheWebhooksAroundIt(t *testing.T) {
	wf := shortSessions()
	wf.DecisionPollAfter = time.Hour
	st := faultStack(t, testkit.Options{Workflow: wf})
	ctx := context.Background()
	id, attempt, user := sim.NewUUID(), sim.NewUUID(), "restart-user"
	st.Emulator.Put(veriff.Name, id, nil)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(id, attempt, user, veriff.Started))); code != http.StatusOK {
		t.Fatalf("started: %d", code)
	}
	wid := workflows.WorkflowID(veriff.Name, id)
	c := st.Temporal.GetDefaultClient()
	waitFor(t, "the session waiting", 30*time.Second, func() bool { return hasEvent(ctx, c, wid, enumspb.EVENT_TYPE_TIMER_STARTED) })
	first := newestRun(t, c, wid)
	t0 := time.Now().UTC().Add(-time.Minute)
	hook := func() {
		if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(id, attempt, user, "declined", t0.Add(time.Second)))); code != http.StatusOK {
			t.Errorf("decline: %d", code)
		}
	}
	op := &operator.Operator{Temporal: terminateThen{c, &sync.Once{}, hook}, Namespace: st.Temporal.GetDefaultNamespace(),
		TaskQueue: testkit.TaskQueue, Log: slog.New(slog.DiscardHandler), Audit: st.Users}
	r, err := op.Do(ctx, operator.ActionRestart, operator.Target{Provider: veriff.Name, SessionID: id}, "")
	if err != nil || r.Outcome != operator.OutcomeRestarted {
		t.Fatalf("restart: %+v, %v", r, err)
	}
	waitUser(t, st, user, "declined", time.Minute)
	if status(t, c, wid); newestRun(t, c, wid) == first {
		t.Fatal("no new run after the restart")
	}
	if n := applied(t, st, user, "declined"); n != 1 {
		t.Fatalf("declined applied %d times, want once", n)
	}
	// Again, on the run the restart and the decline opened: nothing to lose.
	if r, err := op.Do(ctx, operator.ActionRestart, operator.Target{Provider: veriff.Name, SessionID: id}, ""); err != nil || (r.Outcome != operator.OutcomeRestarted && r.Outcome != operator.OutcomeNothing) {
		t.Fatalf("second restart: %+v, %v", r, err)
	}
	waitUser(t, st, user, "declined", time.Minute)
}

// A webhook that comes after a session's run failed starts a run of its
// own, which carries nothing of the failed one; when that run fails too,
// a retry hands over the events of both: the approval the first run held
// (and the provider's API does not show yet) reaches the record.
func TestRetryHandsOverEveryRunThatEndedBeforeItsEnd(t *testing.T) {
	st := faultStack(t, testkit.Options{})
	ctx := context.Background()
	user, created := "retry-two-failed-user", time.Now().Add(-10*time.Minute).UTC()
	key := sim.NewUUID()
	id := workflows.WorkflowID(passbase.Name, key)
	c := st.Temporal.GetDefaultClient()
	// The approval, unknown at the provider's API (404): the run fails.
	first := failedRun(t, st, key, passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", created, created.Add(5*time.Minute)))
	// A later event starts a second run, which fails the same way.
	postPassbase(t, st, passbase.ProcessedBody(passbase.VocabularyNew, key, "", "pending", created, created.Add(time.Minute)))
	awaitNewRun(t, c, id, first)
	if err := st.WaitClosed(ctx, id, time.Minute); err != nil {
		t.Fatal(err)
	}
	if s := status(t, c, id); s != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		t.Fatalf("second run: %s, want failed", s)
	}
	// The fix: the identity exists, its API still says processing.
	st.Emulator.Put(passbase.Name, key, passbase.IdentityObject(key, user, "processing", created, created.Add(time.Minute)))
	runsOf(t, st, id, 2) // visibility lists both failed runs
	op := retrier(st)
	r, err := op.Do(ctx, operator.ActionRetry, operator.Target{Provider: passbase.Name, SessionID: key}, "")
	if err != nil || r.Outcome != operator.OutcomeRetried {
		t.Fatalf("retry: %+v, %v", r, err)
	}
	waitUser(t, st, user, "approved", time.Minute)
}

// A run that failed holding an approval, then a later webhook (a decline
// with an older provider time, which the provider's API then answers):
// the later webhook's run takes in the failed run's approval before it
// acts, so the record holds the newer decision without an operator, once;
// a retry after that has nothing left to hand over, because that run
// received the approval (its read of the earlier runs is in its history).
// (Without the read, the later run completed without the approval, and
// only a retry that looked past a completed run could bring it back.)
func TestRunAfterAFailedOneTakesInTheFailedRunsApproval(t *testing.T) {
	st := faultStack(t, testkit.Options{})
	ctx := context.Background()
	user, created := "taken-after-failed-user", time.Now().Add(-10*time.Minute).UTC()
	key := sim.NewUUID()
	id := workflows.WorkflowID(passbase.Name, key)
	c := st.Temporal.GetDefaultClient()
	// The approval, unknown at the provider's API (404): the run fails.
	first := failedRun(t, st, key, passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", created, created.Add(5*time.Minute)))
	// A decline dated before it starts a run of its own, which the API now
	// answers.
	st.Emulator.Put(passbase.Name, key, passbase.IdentityObject(key, user, "declined", created, created.Add(time.Minute)))
	postPassbase(t, st, passbase.ReviewedBody(passbase.VocabularyNew, key, "", "declined", created, created.Add(time.Minute)))
	awaitNewRun(t, c, id, first)
	if err := st.WaitClosed(ctx, id, time.Minute); err != nil {
		t.Fatal(err)
	}
	if s := status(t, c, id); s != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("second run: %s, want completed", s)
	}
	waitUser(t, st, user, "approved", time.Minute)
	if n := applied(t, st, user, "approved"); n != 1 {
		t.Fatalf("approved applied %d times, want once", n)
	}
	runsOf(t, st, id, 2)
	op := retrier(st)
	r, err := op.Do(ctx, operator.ActionRetry, operator.Target{Provider: passbase.Name, SessionID: key}, "")
	if err != nil || r.Outcome != operator.OutcomeNothing {
		t.Fatalf("retry: %+v, %v; want nothing_to_retry (the second run took the approval in)", r, err)
	}
	if u := applied(t, st, user, "approved"); u != 1 {
		t.Fatalf("approved applied %d times, want once", u)
	}
}

// A decision without a provider time is ordered by its first receipt,
// whichever run got it (R5), also when the run that got it failed and the
// session's next webhook started a run before any retry. Here an untimed
// approval reaches a run that fails (the provider's API does not know the
// identity yet); a decline the provider dated after that receipt starts a
// new run, which takes in the failed run's approval, at its first
// receipt, before it acts; the approval comes again, and later an operator
// retries the session. The approval is older than the decline: the user
// stays declined, and the retry finds nothing left, through the real
// receiver, worker and server. (The new run ordered the approval at its
// own receipt, after the decline, and approved the user.)
func TestReopenedRunOrdersAFailedRunsUntimedDecisionByItsFirstReceipt(t *testing.T) {
	st := faultStack(t, testkit.Options{})
	ctx := context.Background()
	c := st.Temporal.GetDefaultClient()
	user, key := "reopened-untimed-user", sim.NewUUID()
	id := workflows.WorkflowID(passbase.Name, key)
	approval := passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", time.Time{}, time.Time{})
	first := failedRun(t, st, key, approval)
	// Passbase dates in seconds: the decline's second comes after the
	// approval's receipt.
	declined := time.Now().Add(time.Second).Truncate(time.Second)
	time.Sleep(time.Until(declined.Add(100 * time.Millisecond)))
	st.Emulator.Put(passbase.Name, key, passbase.IdentityObject(key, user, "declined", declined, declined))
	postPassbase(t, st, passbase.ReviewedBody(passbase.VocabularyNew, key, "", "declined", declined, declined))
	awaitNewRun(t, c, id, first)
	waitUser(t, st, user, "declined", time.Minute)
	time.Sleep(time.Until(declined.Add(1100 * time.Millisecond)))
	postPassbase(t, st, approval) // received after the decline's time
	if err := st.WaitClosed(ctx, id, time.Minute); err != nil {
		t.Fatal(err)
	}
	userStatus := func() string {
		u, err := st.Users.Get(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return u.Status
	}
	if u := userStatus(); u != "declined" || applied(t, st, user, "approved") != 0 {
		t.Fatalf("user %s, approvals applied %d; want declined, none", u, applied(t, st, user, "approved"))
	}
	// The decline's run took the failed run's approval in, at its first
	// receipt: a retry has nothing left to hand over.
	op := retrier(st)
	r, err := op.Do(ctx, operator.ActionRetry, operator.Target{Provider: passbase.Name, SessionID: key}, "")
	if err != nil || r.Outcome != operator.OutcomeNothing {
		t.Fatalf("retry: %+v, %v; want nothing_to_retry", r, err)
	}
	if u := userStatus(); u != "declined" || applied(t, st, user, "approved") != 0 {
		t.Fatalf("after the retry: user %s, approvals applied %d; want declined, none", u, applied(t, st, user, "approved"))
	}
}

package workflows_test

// Operators' actions on sessions in the generated schedules: at a drawn
// moment the session's open run is ended (failed, terminated, cancelled or
// timed out, as Temporal's Web UI, a bad deploy or an operator's restart
// leave it) or reset to its start; operators then retry the session, one
// or two at once, at drawn moments after. A retry runs the operator's own
// selection (operator.Redelivery) and workflows.HeldEvents over the runs
// the harness ran, and hands what they select to the session as the
// receiver would (a delivery at that moment: into the open run, or the
// first of a new run). The model is the same: no action may lose or
// reorder what the webhooks said.
//
// What the test environment cannot do, and how it is stood in for: it has
// no terminate, so a run is ended with CancelWorkflow (the session
// workflow does no work on cancellation, so it stops where it is, as a
// terminated run does; an activity already running finishes its write, as
// on a real worker); and it has no history to read, so a run's held
// events are read from what the harness gave it: its input and the
// signals it received, the two things operator.held reads from a real
// history.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/testsuite"
	"pgregory.net/rapid"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit/schedules"
	"github.com/idvflow/idvflow/workflows"
)

// The ways a session's open run is ended.
const (
	opFail      = "fail"      // it fails (a bad deploy, a bug), FAILED
	opTerminate = "terminate" // the Web UI's or the CLI's terminate
	opCancel    = "cancel"    // the Web UI's request cancellation
	opTimeout   = "timeout"   // a run timeout set by hand
	opRestart   = "restart"   // idvctl restart: terminate, then retry at once
	opReset     = "reset"     // the Web UI's reset to the run's first workflow task
)

var opKinds = []string{opFail, opTerminate, opCancel, opTimeout, opRestart, opReset}

// sessionOp is one action on a session: the run open at `at` (if any) is
// ended as kind says, and operators retry the session after each delay in
// retries.
type sessionOp struct {
	at      time.Time
	kind    string
	retries []time.Duration
}

// status is how the run the action ended stands in Temporal.
func (o sessionOp) status() enumspb.WorkflowExecutionStatus {
	switch o.kind {
	case opFail:
		return enumspb.WORKFLOW_EXECUTION_STATUS_FAILED
	case opCancel:
		return enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
	case opTimeout:
		return enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT
	default: // terminate, restart, reset (a reset terminates the run it leaves)
		return enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
	}
}

// drawSessionOps draws up to two actions on s, each at any moment of one
// of its clusters of deliveries (its first ten minutes, or its late
// cluster's); every run ended is retried (what the runbook says; a reset
// needs none), within the ten minutes after, before or after the
// session's next webhook, and a retry may come twice at once (an operator
// and a bulk retry). Why within ten minutes: the model takes a session's
// polls to come an hour after a cluster (Timing), when the provider has
// decided what it decided by then; a run that a retry starts hours later
// polls at a moment the model does not follow. A webhook that comes
// before the retry starts a run of its own, which reads first when the
// ended run received what it held (takeEarlierReceipts).
func drawSessionOps(t *rapid.T, s schedules.Session) []sessionOp {
	span := int(schedules.Skipping.ClusterSpan() / time.Second)
	ops := make([]sessionOp, rapid.IntRange(0, 2).Draw(t, "operator actions"))
	for i := range ops {
		o := &ops[i]
		cluster := rapid.SampledFrom(s.ClusterStarts()).Draw(t, "action in cluster")
		o.at = cluster.Add(time.Duration(rapid.IntRange(0, span).Draw(t, "action at (s)")) * time.Second)
		o.kind = rapid.SampledFrom(opKinds).Draw(t, "action")
		least := 1
		switch o.kind {
		case opRestart:
			o.retries, least = []time.Duration{0}, 0
		case opReset:
			least = 0
		}
		for range rapid.IntRange(least, least+1).Draw(t, "retries") {
			o.retries = append(o.retries, time.Duration(rapid.IntRange(0, span).Draw(t, "retry after (s)"))*time.Second)
		}
	}
	return ops
}

// opsTimeline is the actions still due on a session and the runs it had,
// oldest first. Its methods are no-ops on nil (a session without actions).
type opsTimeline struct {
	due     []sessionOp // by time
	retryAt []time.Time // by time
	runs    []*runLog
}

// runLog is what operator.held would read of a run: its input and the
// webhooks it received; and how it ended.
type runLog struct {
	id     string
	status enumspb.WorkflowExecutionStatus
	in     workflows.Input

	mu      sync.Mutex // the hooks signal from the activities' goroutines
	signals []workflows.Event
}

// held is what the operator reads of the run: workflows.HeldEvents of its
// input and signals.
func (r *runLog) held() []workflows.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return workflows.HeldEvents(r.in, r.signals)
}

func newOpsTimeline(ops []sessionOp) *opsTimeline {
	due := slices.Clone(ops)
	slices.SortStableFunc(due, func(a, b sessionOp) int { return a.at.Compare(b.at) })
	return &opsTimeline{due: due}
}

func (o *opsTimeline) cuts() []sessionOp {
	if o == nil {
		return nil
	}
	return o.due
}

// retrying says whether a retry is still to come.
func (o *opsTimeline) retrying() bool { return o != nil && len(o.retryAt) > 0 }

// popCut takes the next action and puts its retries on the timeline.
func (o *opsTimeline) popCut() sessionOp {
	c := o.due[0]
	o.due = o.due[1:]
	for _, d := range c.retries {
		o.retryAt = append(o.retryAt, c.at.Add(d))
	}
	slices.SortFunc(o.retryAt, time.Time.Compare)
	return c
}

// skipCutsBefore drops the actions due before start, when no run was open
// to end (their retries find nothing, or an earlier run, to hand over).
func (o *opsTimeline) skipCutsBefore(start time.Time) {
	for o != nil && len(o.due) > 0 && o.due[0].at.Before(start) {
		o.popCut()
	}
}

// cutDue is the action due by now, if any.
func (o *opsTimeline) cutDue(now time.Time) *sessionOp {
	if o == nil || len(o.due) == 0 || o.due[0].at.After(now) {
		return nil
	}
	c := o.popCut()
	return &c
}

// retryDue is the first retry's moment, when it comes before the first of
// pending (or there is none).
func (o *opsTimeline) retryDue(pending []schedules.Delivery) (time.Time, bool) {
	if !o.retrying() || (len(pending) > 0 && pending[0].At.Before(o.retryAt[0])) {
		return time.Time{}, false
	}
	return o.retryAt[0], true
}

// nextAt is the moment of whatever comes first: a delivery, an action or a
// retry.
func (o *opsTimeline) nextAt(pending []schedules.Delivery) (time.Time, bool) {
	var at time.Time
	ok := false
	consider := func(t time.Time) {
		if !ok || t.Before(at) {
			at, ok = t, true
		}
	}
	if len(pending) > 0 {
		consider(pending[0].At)
	}
	if o != nil && len(o.due) > 0 {
		consider(o.due[0].at)
	}
	if o.retrying() {
		consider(o.retryAt[0])
	}
	return at, ok
}

// redeliver is the first retry: the operator's selection over the runs so
// far, handed to the session as deliveries at the retry's moment, put into
// pending at i (before what is not yet delivered).
func (o *opsTimeline) redeliver(t fataler, pending []schedules.Delivery, i int) []schedules.Delivery {
	at := o.retryAt[0]
	o.retryAt = o.retryAt[1:]
	runs, byID := o.before(nil)
	_, held, err := operator.Redelivery(runs, func(id string) ([]workflows.Event, error) {
		return byID[id].held(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	again := make([]schedules.Delivery, 0, len(held))
	for _, e := range held {
		again = append(again, schedules.Delivery{At: at, Ev: e})
	}
	return slices.Insert(pending, i, again...)
}

// begin logs a new run with input in.
func (o *opsTimeline) begin(in workflows.Input) *runLog {
	if o == nil {
		return nil
	}
	r := &runLog{id: fmt.Sprint("run-", len(o.runs)), status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, in: in}
	o.runs = append(o.runs, r)
	return r
}

// received logs a signal the run got at `at`, with the receipt the
// receiver stamps on every event it signals (the harness leaves it to the
// run, which stamps the same moment).
func (r *runLog) received(ev workflows.Event, at time.Time) {
	if r != nil {
		if ev.ReceivedAt.IsZero() {
			ev.ReceivedAt = at
		}
		r.mu.Lock()
		r.signals = append(r.signals, ev)
		r.mu.Unlock()
	}
}

func (r *runLog) end(s enumspb.WorkflowExecutionStatus) {
	if r != nil {
		r.status = s
	}
}

// earlier is what operator.Operator.EarlierRuns answers the run current
// from the session's runs before it: the operator's own selection
// (operator.Redelivery) over what they held, and workflows.FirstReceipts
// of those that ended before their end. current holds what it takes, as
// the operator reads it from the run's history.
func (o *opsTimeline) earlier(t fataler, current *runLog) workflows.Earlier {
	var out workflows.Earlier
	runs, byID := o.before(current)
	_, events, err := operator.Redelivery(runs, func(id string) ([]workflows.Event, error) { return byID[id].held(), nil })
	if err != nil {
		t.Fatal(err)
	}
	out.Events = events
	// The run received them as surely as its signals: the operator reads
	// them from its history (the activity's marker).
	current.mu.Lock()
	current.signals = append(current.signals, events...)
	current.mu.Unlock()
	for _, r := range runs {
		switch r.Status {
		case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
			continue
		}
		out.Merge(byID[r.ID].receipts())
	}
	return out
}

// before is the session's runs before current (all of them for nil),
// newest first as the operator lists them, and each by its id.
func (o *opsTimeline) before(current *runLog) ([]operator.Run, map[string]*runLog) {
	runs := make([]operator.Run, 0, len(o.runs))
	byID := map[string]*runLog{}
	for _, r := range slices.Backward(o.runs) {
		if r != current {
			runs = append(runs, operator.Run{ID: r.id, Status: r.status})
			byID[r.id] = r
		}
	}
	return runs, byID
}

// receipts is when the run first received what it held
// (workflows.FirstReceipts).
func (r *runLog) receipts() workflows.Earlier {
	r.mu.Lock()
	defer r.mu.Unlock()
	return workflows.FirstReceipts(r.in, r.signals)
}

// again is every signal the run received, delivered again at `at` (a
// reset's new run gets them all).
func (r *runLog) again(at time.Time) []schedules.Delivery {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]schedules.Delivery, 0, len(r.signals))
	for _, e := range r.signals {
		out = append(out, schedules.Delivery{At: at, Ev: e})
	}
	return out
}

// storeRefusesTheFirstRun makes the store refuse every write of the
// session's first run, so it holds what it received unwritten when it
// ends, until t ends.
func (w *world) storeRefusesTheFirstRun(t *testing.T) {
	w.prepare = func(env *testsuite.TestWorkflowEnvironment, run int) {
		if run == 0 {
			env.OnActivity(w.acts.ApplyAndHandOver, mock.Anything, mock.Anything).Return(activities.UpdateResult{}, errors.New("store unavailable"))
		}
	}
	t.Cleanup(func() { w.prepare = nil })
}

// A run that ended before its end holds what only it received; the run
// the session's next webhook starts takes it in before it acts. Here the
// session's first run holds an approval it cannot write (the store
// refuses) when an operator ends it; a decline with an older provider
// time starts a run of its own, which takes the approval in, applies it
// and writes the decline as older; the retry hours later finds nothing
// left (that run received the approval) and starts no run. (Before the
// take, the decline's run completed without the approval, and only a
// retry that looked past the completed run could hand it over.)
func TestRunAfterAnEndedOneTakesInWhatItHeld(t *testing.T) {
	w := sharedWorld(t)
	user, id := "user-retry-after-completed", "retry-after-completed"
	t0 := time.Date(2026, 7, 2, 9, 0, 0, 0, time.UTC)
	w.storeRefusesTheFirstRun(t)
	api := func(time.Time) {
		w.emu.Put(veriff.Name, id, sim.JSON(veriff.Verification(id, "a", user, "declined", t0.Add(30*time.Second))))
	}
	ops := []sessionOp{{at: t0.Add(2 * time.Minute), kind: opTerminate, retries: []time.Duration{6 * time.Hour}}}
	runs := w.runWith(t, schedules.Skipping.Config, veriff.Name, id, []schedules.Delivery{
		arrive(veriff.Name, t0, veriff.EventBody(id, "a", user, veriff.Started)),
		arrive(veriff.Name, t0.Add(time.Minute), veriff.DecisionBody(id, "a", user, "approved", t0.Add(time.Minute))),
		arrive(veriff.Name, t0.Add(3*time.Minute), veriff.DecisionBody(id, "a", user, "declined", t0.Add(30*time.Second))),
	}, api, false, &hooks{ops: ops})
	if runs != 2 {
		t.Fatalf("%d runs, want 2: the one ended, the decline's (the retry has nothing left)", runs)
	}
	if st, h := w.user(t, user); st != "approved" || h != "approved" {
		t.Fatalf("user %s with decisions %q, want approved (the decline older, written after it)", st, h)
	}
}

// R4: a session began at the first receipt of its first webhook, whichever
// run got it. Here the first run gets the session's opening event and is
// ended by an operator; the provider sends the event again, which starts a
// run of its own; the retry then hands that run the first receipt, a
// repeat of what it has. The session expires ordered at the first
// receipt. (The run took the repeat's receipt for nothing and ordered the
// expiry at the second one, found by the generated schedules.)
func TestRetryHandsTheSessionsFirstReceiptToALaterRun(t *testing.T) {
	w := sharedWorld(t)
	user, id := "user-retry-first-receipt", "retry-first-receipt"
	t0 := time.Date(2026, 7, 3, 9, 0, 0, 0, time.UTC)
	started := veriff.EventBody(id, "a", user, veriff.Started)
	ops := []sessionOp{{at: t0.Add(time.Second), kind: opTerminate, retries: []time.Duration{30 * time.Second}}}
	w.runWith(t, schedules.Skipping.Config, veriff.Name, id, []schedules.Delivery{
		arrive(veriff.Name, t0, started),
		arrive(veriff.Name, t0.Add(2*time.Second), started),
	}, func(time.Time) { w.emu.Put(veriff.Name, id, nil) }, false, &hooks{ops: ops})
	u, err := w.users.Get(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != "expired" || !u.DecidedAt.Equal(t0) {
		t.Fatalf("user %s at %s, want expired at %s (the session's first receipt)", u.Status, u.DecidedAt.Format(time.RFC3339), t0.Format(time.RFC3339))
	}
}

// R4: a session began at its first receipt, even when the run that got it
// ended before its end and nothing hands it over. Here the session's first
// run gets its opening event and is terminated, with no retry; the
// provider sends the event again, which starts a run of its own, and that
// run expires the session: ordered at the first receipt, which it read
// from the ended run before it acted. (It ordered the expiry at its own
// first receipt, two seconds later.)
func TestReopenedSessionEndsAtTheEndedRunsFirstReceipt(t *testing.T) {
	w := sharedWorld(t)
	user, id := "user-reopened-first-receipt", "reopened-first-receipt"
	t0 := time.Date(2026, 7, 4, 9, 0, 0, 0, time.UTC)
	started := veriff.EventBody(id, "a", user, veriff.Started)
	ops := []sessionOp{{at: t0.Add(time.Second), kind: opTerminate}}
	runs := w.runWith(t, schedules.Skipping.Config, veriff.Name, id, []schedules.Delivery{
		arrive(veriff.Name, t0, started),
		arrive(veriff.Name, t0.Add(2*time.Second), started),
	}, func(time.Time) { w.emu.Put(veriff.Name, id, nil) }, false, &hooks{ops: ops})
	if runs != 2 {
		t.Fatalf("%d runs, want 2: the one terminated, the redelivery's", runs)
	}
	u, err := w.users.Get(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != "expired" || !u.DecidedAt.Equal(t0) {
		t.Fatalf("user %s at %s, want expired at %s (the session's first receipt)", u.Status, u.DecidedAt.Format(time.RFC3339), t0.Format(time.RFC3339))
	}
}

// R5: a decision without a provider time is ordered by its first receipt,
// whichever run got it. Here the session's first run receives an untimed
// approval it cannot write (the store refuses) and is terminated; a
// decline the provider dated after that receipt starts a run of its own,
// and the approval comes again while that run is open. The approval is
// older than the decline, so the user stays declined, retried or not.
// (The run ordered the approval at its own receipt, after the decline,
// and approved the user.)
func TestReopenedSessionOrdersAnUntimedDecisionByItsFirstReceipt(t *testing.T) {
	w := sharedWorld(t)
	user, id := "user-reopened-untimed", "reopened-untimed"
	t0 := time.Date(2026, 7, 5, 9, 0, 0, 0, time.UTC)
	w.storeRefusesTheFirstRun(t)
	approved := veriff.DecisionBody(id, "a", user, "approved", time.Time{})
	ops := []sessionOp{{at: t0.Add(2 * time.Minute), kind: opTerminate, retries: []time.Duration{10 * time.Minute}}}
	w.runWith(t, schedules.Skipping.Config, veriff.Name, id, []schedules.Delivery{
		arrive(veriff.Name, t0, veriff.EventBody(id, "a", user, veriff.Started)),
		arrive(veriff.Name, t0.Add(time.Minute), approved),
		arrive(veriff.Name, t0.Add(3*time.Minute), veriff.DecisionBody(id, "a", user, "declined", t0.Add(90*time.Second))),
		arrive(veriff.Name, t0.Add(4*time.Minute), approved),
	}, func(time.Time) {
		w.emu.Put(veriff.Name, id, sim.JSON(veriff.Verification(id, "a", user, "declined", t0.Add(90*time.Second))))
	}, false, &hooks{ops: ops})
	if st, h := w.user(t, user); st != "declined" || h != "declined" {
		t.Fatalf("user %s with decisions %q, want declined only: the approval was first received before the decline's time", st, h)
	}
}

// R5: an untimed decision whose redelivery starts the reopened run is
// ordered by its first receipt in the run that ended, not by the
// redelivery's. Here the session's first run receives an untimed
// approval it cannot write (the store refuses) and is terminated; the
// provider sends the approval again, which starts a run of its own; a
// decline the provider dated between the two receipts follows. The
// approval is older: the user ends declined. (Taking in the ended run's
// events alone left the approval at the redelivery's receipt, a repeat
// of what the run had: it approved the user over the decline.)
func TestReopenedRunStartedByARedeliveryOrdersItByTheFirstReceipt(t *testing.T) {
	w := sharedWorld(t)
	user, id := "user-reopened-by-redelivery", "reopened-by-redelivery"
	t0 := time.Date(2026, 7, 7, 9, 0, 0, 0, time.UTC)
	w.storeRefusesTheFirstRun(t)
	approved := veriff.DecisionBody(id, "a", user, "approved", time.Time{})
	ops := []sessionOp{{at: t0.Add(2 * time.Minute), kind: opTerminate}}
	w.runWith(t, schedules.Skipping.Config, veriff.Name, id, []schedules.Delivery{
		arrive(veriff.Name, t0, veriff.EventBody(id, "a", user, veriff.Started)),
		arrive(veriff.Name, t0.Add(time.Minute), approved),
		arrive(veriff.Name, t0.Add(3*time.Minute), approved),
		arrive(veriff.Name, t0.Add(4*time.Minute), veriff.DecisionBody(id, "a", user, "declined", t0.Add(2*time.Minute))),
	}, func(time.Time) {
		w.emu.Put(veriff.Name, id, sim.JSON(veriff.Verification(id, "a", user, "declined", t0.Add(2*time.Minute))))
	}, false, &hooks{ops: ops})
	if st, h := w.user(t, user); st != "declined" {
		t.Fatalf("user %s with decisions %q, want declined: the approval was first received before the decline's time", st, h)
	}
}

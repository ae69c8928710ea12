package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/onboarding"
)

// A step that keeps failing is tried in rounds: a round is an activity
// with Temporal's retries (at most roundAttempts attempts, a minute apart
// at most), and between rounds the run sleeps on a timer, doubling from
// roundPauseFirst to roundPauseMax. The step retries like that for as long
// as its failure may pass (an app down for days), in a history that grows
// by a few events a round, and the run can hand over between rounds.
const (
	roundAttempts   = 10
	roundPauseFirst = 5 * time.Minute
	roundPauseMax   = time.Hour
	// roundBackoff is the most a round waits between its attempts
	// (1s doubling to a minute, roundAttempts-1 times): 4m3s.
	roundBackoff = 243 * time.Second
	// keptDone bounds the outcomes the state query lists.
	keptDone = 20
)

// Onboarding runs OnboardingWorkflow.
type Onboarding struct {
	// Plan is the steps of this worker's build; a run records the plan of
	// the worker that runs its first task (a side effect), and keeps it.
	Plan onboarding.Plan
	// ActivityTimeout bounds one attempt of a step's activity.
	ActivityTimeout time.Duration
}

// OnboardingWorkflow is one user's onboarding (docs/semantics.md R11): it
// takes the changes the user's sessions applied to the record (signal
// onboarding.SignalChange) and runs the plan's steps for each, one change
// at a time, in the record's order. Whatever a step does, the record has
// already moved on: no step holds back a session.
func (o *Onboarding) OnboardingWorkflow(ctx workflow.Context, in onboarding.Input) error {
	r := newOnboardingRun(ctx, o.plan(ctx, in), in, o.ActivityTimeout)
	if err := workflow.SetQueryHandler(ctx, onboarding.QueryState, func() (onboarding.State, error) { return r.state(), nil }); err != nil {
		return fmt.Errorf("set query handler: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, onboarding.UpdateReview, r.review,
		workflow.UpdateHandlerOptions{Validator: r.validateReview}); err != nil {
		return fmt.Errorf("set update handler: %w", err)
	}
	r.listen(ctx)
	// The change the run started with is queued before the first step: no
	// idle timer for a wait that is over.
	r.drain()

	for {
		// 1. The next change in the record's order, or close once nothing
		// came for the plan's idle time.
		if r.current == nil {
			// 0. A new run takes in what the store still owes this
			// onboarding (what a run that ended before its end held) with
			// its first take; one with nothing queued yet to take reads it
			// now, as does a run once it ran what a bounded read took.
			if len(r.queued) == 0 {
				if err := r.takeOwed(ctx); errors.Is(err, errHandOver) {
					return r.continueAsNew(ctx)
				}
			}
			switch r.awaitChange(ctx) {
			case tooLong:
				return r.continueAsNew(ctx)
			case timedOut:
				if r.settle(ctx); len(r.queued) > 0 {
					continue // it came with the close: run it
				}
				return nil
			}
			r.current, r.queued, r.at, r.results = &r.queued[0], r.queued[1:], 0, nil
			// Taken once, in any run: a hand-over that came twice (after
			// this user's last run closed) runs no step twice.
			switch took, err := r.takeChange(ctx); {
			case errors.Is(err, errHandOver):
				return r.continueAsNew(ctx)
			case took == takeLater:
				continue // what the store owes holds an older change
			case took == takeDoneBefore:
				r.results = []string{"done before"}
				r.finishChange(ctx)
				continue
			}
		}
		// 2. Its steps, in the plan's order, from the one it is at.
		for ; r.at < len(r.in.Plan.Steps); r.at++ {
			res, err := r.runStep(ctx, r.in.Plan.Steps[r.at])
			if errors.Is(err, errHandOver) {
				return r.continueAsNew(ctx)
			}
			r.results = append(r.results, res)
			if res == resRejected || res == resSuperseded {
				// The gate did not pass: the steps after it do not run.
				for _, rest := range r.in.Plan.Steps[r.at+1:] {
					r.results = append(r.results, rest+": skipped")
				}
				break
			}
		}
		// 3. Finished: no run of this onboarding takes it again. Until
		// then, whichever run holds it (continued, reset) runs what is left.
		if err := r.finishTake(ctx); errors.Is(err, errHandOver) {
			return r.continueAsNew(ctx)
		}
		r.finishChange(ctx)
		// 4. Bounded like a session (R10).
		if r.tooLong(ctx) {
			return r.continueAsNew(ctx)
		}
	}
}

// plan is the run's steps: this worker's, recorded in the run's history
// (a side effect), so the run keeps them on replay and on any worker; a
// continued run's are carried.
func (o *Onboarding) plan(ctx workflow.Context, in onboarding.Input) onboarding.Plan {
	if in.Carried != nil {
		return in.Plan
	}
	var p onboarding.Plan
	record := func(workflow.Context) any {
		p := o.Plan
		p.Release = onboardingRelease
		return p
	}
	if err := workflow.SideEffect(ctx, record).Get(&p); err != nil {
		return onboarding.Plan{} // cannot happen for a plain struct
	}
	return p
}

// What a take answers.
type took int

const (
	takeRun        took = iota // the change's steps are this run's to run
	takeDoneBefore             // they ran to the end before
	takeLater                  // the store owes an older change: that one first
)

// takeChange records in the store that this onboarding takes the current
// change; it reports takeDoneBefore when the change's steps ran to the end
// before (the same change handed over twice, after this user's last run
// closed). A change taken and not finished is this onboarding's in any of
// its runs. A new run's first take also reads what the store owes the
// onboarding, in the same local activity (no action of its own on the
// usual path); when that holds a change that orders first, the current
// change goes back to the queue (takeLater), taken, and runs in its turn.
func (r *onboardingRun) takeChange(ctx workflow.Context) (took, error) {
	var a *activities.Activities
	var first bool
	var err error
	read := r.owedDue()
	switch {
	case read:
		var t activities.Taken
		if err = r.localCall(ctx, "take the change; read what the store owes", a.TakeAndReadOwed, &t, r.current.ID, r.user); err == nil {
			first = t.First
			r.takeIn(t.Owed)
		}
	case r.in.Plan.Release >= 2:
		err = r.storeCall(ctx, "take the change", a.TakeChangeToFinish, &first)
	default:
		err = r.storeCall(ctx, "take the change", a.TakeChange, &first)
	}
	if err != nil { // errHandOver
		r.queued = append([]onboarding.Change{*r.current}, r.queued...)
		r.current = nil
		return takeRun, errHandOver
	}
	if read && len(r.queued) > 0 && r.order(r.queued[0], *r.current) < 0 {
		r.enqueue(*r.current)
		r.current = nil
		return takeLater, nil
	}
	if !first {
		return takeDoneBefore, nil
	}
	return takeRun, nil
}

// takeOwed reads what the store owes this onboarding (activities.Owed),
// when it is due, and queues it in the record's order beside what the run
// received: a change it already has is dropped by id, one whose steps ran
// in an earlier run is taken as "done before".
func (r *onboardingRun) takeOwed(ctx workflow.Context) error {
	if !r.owedDue() {
		return nil
	}
	var a *activities.Activities
	var owed activities.Owed
	if err := r.localCall(ctx, "read what the store owes", a.OwedChanges, &owed, r.user); err != nil {
		return err
	}
	r.takeIn(owed)
	return nil
}

// takeIn queues what a read of the store found owed, beside what the run
// received, and notes whether the read stopped at its bounds.
func (r *onboardingRun) takeIn(owed activities.Owed) {
	r.read, r.unread = true, owed.More
	for _, c := range owed.Changes {
		r.queue(c)
	}
}

// owedDue reports whether the run reads what the store owes now: a new
// run (or one continued before it read) before its first change, and a
// run whose read stopped at its bounds once its queue is empty.
func (r *onboardingRun) owedDue() bool {
	return r.unread && r.user != "" && (!r.read || len(r.queued) == 0)
}

// onboardingRelease is the behaviour new runs record with their plan
// (onboarding.Plan.Release): a change's behaviour is versioned by the plan
// the run recorded at its start, not by a marker of its own. Runs of 1.0
// recorded none (0): their taken changes are never finished (a run of
// theirs that meets one again runs its steps) and they break ties in
// order time by change id. Runs of release 2 read what the store owes
// their onboarding before their first change.
const onboardingRelease = 2

// finishTake records in the store that every step of the current change
// ran; until it lands, the change stays the run's current one (and the
// next run's, if this one hands over).
func (r *onboardingRun) finishTake(ctx workflow.Context) error {
	if r.in.Plan.Release < 1 {
		return nil
	}
	var a *activities.Activities
	return r.storeCall(ctx, "finish the change", a.FinishChange, nil)
}

// storeCall runs one of the store's onboarding calls for the current
// change in a local activity (a marker in the same workflow task, not an
// activity task and a workflow task of its own), in rounds: the store has
// no failure retrying cannot fix. It returns nil or errHandOver.
func (r *onboardingRun) storeCall(ctx workflow.Context, summary string, activity, result any) error {
	return r.localCall(ctx, summary, activity, result, r.current.ID)
}

// localCall runs a store call of the onboarding's with args, as storeCall
// says.
func (r *onboardingRun) localCall(ctx workflow.Context, summary string, activity, result any, args ...any) error {
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: roundAttempts}
	return r.inRounds(ctx, summary, func() error {
		// A local activity's retries end at its ScheduleToCloseTimeout (by
		// default its StartToCloseTimeout): room for the round's attempts
		// and their backoff.
		opts := workflow.LocalActivityOptions{
			Summary: summary, StartToCloseTimeout: r.timeout, RetryPolicy: retry,
			ScheduleToCloseTimeout: roundAttempts*r.timeout + roundBackoff,
		}
		f := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, opts), activity, args...)
		if err := f.Get(ctx, result); isPermanent(err) {
			return temporal.NewApplicationError(errorMessage(err), "StoreFailed")
		} else if err != nil {
			return err
		}
		return nil
	})
}

// inRounds runs attempt (an activity with Temporal's retries) until it
// succeeds or fails for good, and returns its last error. A failure that
// may pass is tried again in rounds, after a pause that doubles from
// roundPauseFirst to roundPauseMax, for as long as it lasts; the run
// hands over between rounds when it must (errHandOver).
func (r *onboardingRun) inRounds(ctx workflow.Context, what string, attempt func() error) error {
	for pause := roundPauseFirst; ; pause = min(2*pause, roundPauseMax) {
		err := attempt()
		if err == nil || isPermanent(err) {
			return err
		}
		if ctx.Err() != nil {
			// The run was asked to cancel (the Web UI's Cancel): nothing
			// it holds may be dropped, so it hands all of it to a new run,
			// instead of failing its attempts without end in one task.
			return errHandOver
		}
		r.logger.Info(what+": not done; trying again later", "pause", pause, "error", err)
		if ok, err := workflow.AwaitWithTimeout(ctx, pause, func() bool { return r.tooLong(ctx) }); ok || err != nil {
			return errHandOver
		}
	}
}

// Step results, as the state query shows them.
const (
	resDone       = "done"
	resRejected   = "rejected"
	resSuperseded = "superseded"
)

type onboardingRun struct {
	in      onboarding.Input
	timeout time.Duration
	logger  log.Logger
	changes workflow.ReceiveChannel

	recordOrder bool // order changes as the record does (Plan.Release 1)

	current  *onboarding.Change // whose steps run
	at       int                // the step of current that runs
	results  []string           // of current's steps that ran
	queued   []onboarding.Change
	seen     map[string]bool
	seenList []string
	done     []onboarding.Outcome
	answer   *onboarding.Review // the review gate's answer, once given
	waiting  string
	signals  int

	user   string // whose onboarding: the user id the changes name
	unread bool   // what the store owes is still to be read (Plan.Release 2)
	read   bool   // this run read it
}

func newOnboardingRun(ctx workflow.Context, plan onboarding.Plan, in onboarding.Input, timeout time.Duration) *onboardingRun {
	if timeout <= 0 {
		timeout = time.Minute
	}
	in.Plan = plan
	r := &onboardingRun{
		in: in, timeout: timeout, logger: workflow.GetLogger(ctx),
		changes: workflow.GetSignalChannel(ctx, onboarding.SignalChange), seen: map[string]bool{},
		recordOrder: plan.Release >= 1,
		unread:      plan.Release >= 2 && (in.Carried == nil || in.Carried.Unread),
	}
	if c := in.Carried; c != nil {
		r.current, r.at, r.results, r.done, r.answer, r.user = c.Current, c.Step, c.Results, c.Done, c.Answer, c.User
		for _, id := range c.Seen {
			r.see(id)
		}
		for _, ch := range c.Queued {
			r.enqueue(ch)
		}
		r.in.Carried = nil
	}
	return r
}

// listen takes every change as it arrives, so the steps of another
// change, or a person's wait at the gate, never leave one unread.
func (r *onboardingRun) listen(ctx workflow.Context) {
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var c onboarding.Change
			r.changes.Receive(ctx, &c)
			r.take(c)
		}
	})
}

// settle reads every hand-over delivered before the run closes or
// continues as new, in the same workflow task: one that arrived with the
// timer that ends the run would otherwise never be read, and the store
// has marked it handed over (R11). The SDK may already have given such a
// signal to the listener's pending Receive, so settle first yields once
// for the listener to take it, then drains the rest, as the session's
// drain does.
func (r *onboardingRun) settle(ctx workflow.Context) {
	yieldOnce(ctx)
	r.drain()
}

// drain takes what was delivered and not yet read.
func (r *onboardingRun) drain() {
	for {
		var c onboarding.Change
		if !r.changes.ReceiveAsync(&c) {
			return
		}
		r.take(c)
	}
}

// take queues change c unless the run already has it: a hand-over is
// retried until it lands, so it may come twice.
func (r *onboardingRun) take(c onboarding.Change) {
	r.signals++
	if r.user == "" {
		r.user = c.UserID
	}
	r.queue(c)
}

// queue queues change c unless the run already has it (by its id).
func (r *onboardingRun) queue(c onboarding.Change) {
	if r.seen[c.ID] {
		return
	}
	r.see(c.ID)
	r.enqueue(c)
}

func (r *onboardingRun) see(id string) {
	r.seen[id] = true
	r.seenList = append(r.seenList, id)
}

// enqueue keeps the queue in the record's order (R11).
func (r *onboardingRun) enqueue(c onboarding.Change) {
	i, _ := slices.BinarySearchFunc(r.queued, c, r.order)
	r.queued = slices.Insert(r.queued, i, c)
}

// order is the record's order of changes.
func (r *onboardingRun) order(a, b onboarding.Change) int {
	if r.recordOrder {
		return onboarding.Compare(a, b)
	}
	return idOrder(a, b)
}

// idOrder is the order of runs of 1.0: the store's order time, then the
// change id.
func idOrder(a, b onboarding.Change) int {
	if d := a.At.Compare(b.At); d != 0 {
		return d
	}
	return strings.Compare(a.ID, b.ID)
}

// awaitChange waits for a queued change: ready when there is one, timedOut
// after the plan's idle time without one, tooLong when the run must hand
// over.
func (r *onboardingRun) awaitChange(ctx workflow.Context) wait {
	if len(r.queued) > 0 {
		return ready
	}
	if r.tooLong(ctx) {
		return tooLong
	}
	wake := func() bool { return len(r.queued) > 0 || r.tooLong(ctx) }
	// A timer cancelled when a change comes first, so it never fires later
	// for nothing.
	fired := sleepUnless(ctx, r.in.Plan.Idle, "idle: close unless a change comes", wake)
	switch {
	case len(r.queued) > 0:
		return ready
	case !fired:
		return tooLong
	}
	return timedOut
}

// runStep runs one step of the current change and returns its result.
func (r *onboardingRun) runStep(ctx workflow.Context, step string) (string, error) {
	switch step {
	case onboarding.StepReview:
		return r.reviewGate(ctx)
	case onboarding.StepNotify:
		return r.notifyApp(ctx)
	}
	// A plan from a newer worker, replayed or run by an older one.
	return step + ": failed: unknown step", nil
}

// reviewGate holds a change whose status the plan lists until a person
// answers with the review Update (admin API POST /v1/onboarding/{user}/review,
// or `temporal workflow update execute --name review`). A newer change
// supersedes the wait: the person reviews the newest (R11).
func (r *onboardingRun) reviewGate(ctx workflow.Context) (string, error) {
	if !slices.Contains(r.in.Plan.Review, r.current.Status) {
		return onboarding.StepReview + ": not held", nil
	}
	r.answer = nil
	r.setWaiting(ctx, onboarding.StepReview)
	defer r.setWaiting(ctx, "")
	_ = workflow.Await(ctx, func() bool { return r.answer != nil || r.newerQueued() || r.tooLong(ctx) })
	switch {
	case r.answer != nil && r.answer.Outcome == onboarding.ReviewPassed:
		return onboarding.StepReview + ": passed by " + r.answer.Reviewer, nil
	case r.answer != nil:
		return resRejected, nil
	case r.newerQueued():
		return resSuperseded, nil
	}
	return "", errHandOver // the next run waits again, at this step
}

// newerQueued reports whether a queued change supersedes the current one
// at the gate (R11): one that orders after it and, when the current change
// is a verdict, is a verdict too. A verdict changes only by a newer
// verdict (R2), so a later session's outcome (an expiry, an abandoned
// session) does not end a verdict's wait: it waits its turn, and the app
// hears of both, in order. An older change supersedes nothing.
func (r *onboardingRun) newerQueued() bool {
	for _, q := range r.queued {
		if r.order(q, *r.current) > 0 && (q.Verdict || !r.current.Verdict) {
			return true
		}
	}
	return false
}

// validateReview refuses an answer the gate cannot take, before it is
// written to the run's history. The same answer again, for a change whose
// gate it passed (a retried request, in this run or an earlier one), is
// taken and changes nothing.
func (r *onboardingRun) validateReview(rv onboarding.Review) error {
	if err := rv.Check(); err != nil {
		return err
	}
	if r.answered(rv) {
		return nil
	}
	if r.waiting != onboarding.StepReview || r.current == nil {
		return errors.New("no change waits for review")
	}
	if rv.ChangeID != r.current.ID {
		return fmt.Errorf("change %s does not wait for review; change %s does", rv.ChangeID, r.current.ID)
	}
	return nil
}

// review takes a person's answer at the gate.
func (r *onboardingRun) review(_ workflow.Context, rv onboarding.Review) (onboarding.State, error) {
	if !r.answered(rv) {
		r.answer = &rv
	}
	return r.state(), nil
}

// answered reports whether rv is the answer the gate of its change took.
func (r *onboardingRun) answered(rv onboarding.Review) bool {
	if r.answer != nil && *r.answer == rv {
		return true
	}
	for _, d := range r.done {
		if d.ChangeID == rv.ChangeID && d.Review != nil && *d.Review == rv {
			return true
		}
	}
	return false
}

// setWaiting shows the gate the run waits at as a search attribute, so
// operators can list the users waiting for a person.
func (r *onboardingRun) setWaiting(ctx workflow.Context, gate string) {
	r.waiting = gate
	if err := workflow.UpsertTypedSearchAttributes(ctx, onboarding.AttrWaiting.ValueSet(gate)); err != nil {
		r.logger.Warn("search attribute not set", "error", err)
	}
}

// notifyApp posts the change to the team's app (IDV_NOTIFY_URL) as a
// Standard Webhooks message; webhook-id and decided_at are the store's
// change id and order time, so every attempt, in any run, is the same
// message.
func (r *onboardingRun) notifyApp(ctx workflow.Context) (string, error) {
	n := NotificationOf(*r.current)
	var a *activities.Activities
	var res activities.NotifyResult
	return r.runActivity(ctx, onboarding.StepNotify, "notify the app: "+n.Status, a.NotifyApp, n, &res)
}

// runActivity runs a step's activity until it succeeds ("done") or fails
// for good (a non-retryable error: "<step>: failed: <why>", visible in
// the state query). A failure that may pass (an app or a service that is
// down) is tried again in rounds for as long as it lasts, and the run
// hands over between rounds when it must (errHandOver: the next run runs
// the step again, so its side effects must carry the change's id).
func (r *onboardingRun) runActivity(ctx workflow.Context, step, summary string, activity, arg, result any) (string, error) {
	opts := workflow.ActivityOptions{
		Summary:             summary,
		StartToCloseTimeout: r.timeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: roundAttempts,
		},
	}
	err := r.inRounds(ctx, step, func() error {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), activity, arg).Get(ctx, result)
	})
	switch {
	case err == nil:
		return resDone, nil
	case errors.Is(err, errHandOver):
		return "", err
	}
	r.logger.Warn("onboarding step failed", "step", step, "error", err)
	return step + ": failed: " + errorMessage(err), nil
}

// NotificationOf is the message the notify step posts for change c: the
// same Standard Webhooks message a session posted itself before (R7: its
// webhook-id is the store's change id, decided_at its order time).
func NotificationOf(c onboarding.Change) activities.Notification {
	n := activities.Notification{
		WebhookID: "msg_" + c.ID, UserID: c.UserID, Provider: c.Provider, SessionID: c.SessionID,
		Status: c.Status, ReasonCode: c.Reason, DecidedAt: c.At, Kind: activities.NotifySessionOutcome,
	}
	if c.Verdict {
		n.Kind = activities.NotifyVerdict
	}
	return n
}

func errorMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// finishChange records what became of the current change's steps.
func (r *onboardingRun) finishChange(ctx workflow.Context) {
	c := r.current
	out := onboarding.Outcome{ChangeID: c.ID, Status: c.Status, Steps: r.results}
	if r.answer != nil && r.answer.ChangeID == c.ID {
		out.Review = r.answer
	}
	r.answer = nil
	r.done = lastN(append(r.done, out), keptDone)
	r.logger.Info("onboarding steps ended", "change", c.ID, "status", c.Status, "steps", r.results)
	r.current, r.at, r.results = nil, 0, nil
}

func (r *onboardingRun) state() onboarding.State {
	st := onboarding.State{Current: r.current, Waiting: r.waiting, Queued: r.queued, Done: r.done}
	if r.current != nil && r.at < len(r.in.Plan.Steps) {
		st.Step = r.in.Plan.Steps[r.at]
	}
	return st
}

// tooLong reports whether this run should hand over to a new one.
func (r *onboardingRun) tooLong(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return r.signals >= continueAfterSignals || info.GetCurrentHistoryLength() >= continueAfterEvents ||
		info.GetContinueAsNewSuggested()
}

// continueAsNew hands the queue, the change in progress (from the step it
// was at) and the ids taken to a new run.
func (r *onboardingRun) continueAsNew(ctx workflow.Context) error {
	r.settle(ctx)
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	in := onboarding.Input{Plan: r.in.Plan, Carried: &onboarding.Carried{
		Current: r.current, Step: r.at, Results: r.results, Answer: r.answer, Queued: r.queued,
		Seen: lastN(r.seenList, carriedSeen), Done: r.done,
	}}
	if r.unread {
		in.Carried.Unread, in.Carried.User = true, r.user
	}
	return workflow.NewContinueAsNewError(ctx, onboarding.WorkflowName, in)
}

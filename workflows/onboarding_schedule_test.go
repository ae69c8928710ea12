package workflows_test

// The user's onboarding in the generated schedules (R11): what the
// sessions of a schedule handed over, in the order the store handed it, is
// fed to the real OnboardingWorkflow (no stand-in), with drawn gaps
// between hand-overs, a review gate on drawn statuses answered by a
// reviewer after drawn delays (passed or rejected), the app down for drawn
// hours, and the run cut at drawn moments: continued as new, reset (as
// the Web UI's reset or a bad-deploy batch reset does), or terminated
// (what it held goes with it; the store still owes it, and the next run,
// started by the next hand-over or an operator's `idvctl onboarding
// retry`, takes it in). The property: the
// app hears of each change once (under its webhook-id, whatever run sends
// it), of every change no gate held back, of its verdicts in the record's
// order, and its last verdict is the record's.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"pgregory.net/rapid"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/testkit/schedules"
	"github.com/idvflow/idvflow/workflows"
)

// handLog records what the sessions hand to the users' onboardings, in
// the order the store hands it, for the onboarding runs that follow.
type handLog struct {
	mu sync.Mutex
	by map[string][]onboarding.Change // not yet run, by user id
}

func (h *handLog) Hand(_ context.Context, _ string, c onboarding.Change) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.by == nil {
		h.by = map[string][]onboarding.Change{}
	}
	h.by[c.UserID] = append(h.by[c.UserID], c)
	return nil
}

// take returns user's hand-overs not run yet, and forgets them.
func (h *handLog) take(user string) []onboarding.Change {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.by[user]
	delete(h.by, user)
	return out
}

// cutKind is how a drawn cut ends an onboarding run.
type cutKind string

const (
	cutContinue  cutKind = "continue-as-new" // the run hands over, carrying what it holds
	cutReset     cutKind = "reset"           // the run is reset: a new run from its input, with every signal it had
	cutTerminate cutKind = "terminate"       // the run ends; what it held goes with it
)

type cut struct {
	at   time.Duration // from the first hand-over
	kind cutKind
	// retry is how long after a terminate the operator retries the
	// onboarding (hands again what the store owes it).
	retry time.Duration
}

type answer struct {
	outcome string // onboarding.ReviewPassed or ReviewRejected
	delay   time.Duration
}

type window struct{ from, to time.Duration }

// onboardingDraws is one user's onboarding in a schedule.
type onboardingDraws struct {
	review  []string        // IDV_REVIEW_STATUSES
	gaps    []time.Duration // before each hand-over (the first's is from the start)
	answers []answer        // the reviewer's, by hand-over index
	down    []window        // the app answers 503
	cuts    []cut
	idle    time.Duration
}

// plainOnboarding is an onboarding with nothing drawn: no gate, the app
// up, each hand-over a minute after the one before.
func plainOnboarding(n int) onboardingDraws {
	d := onboardingDraws{idle: 10 * time.Minute}
	for range n {
		d.gaps = append(d.gaps, time.Minute)
		d.answers = append(d.answers, answer{outcome: onboarding.ReviewPassed})
	}
	return d
}

func drawOnboarding(t *rapid.T, n int) onboardingDraws {
	d := onboardingDraws{idle: rapid.SampledFrom([]time.Duration{time.Minute, 10 * time.Minute, time.Hour}).Draw(t, "onboarding idle")}
	for _, st := range []string{"approved", "declined", "expired", "abandoned"} {
		if rapid.IntRange(0, 2).Draw(t, "gate holds "+st) == 0 {
			d.review = append(d.review, st)
		}
	}
	gaps := []time.Duration{0, time.Second, time.Minute, 2 * time.Hour, 30 * time.Hour}
	for range n {
		d.gaps = append(d.gaps, rapid.SampledFrom(gaps).Draw(t, "hand-over gap"))
		a := answer{outcome: onboarding.ReviewPassed, delay: rapid.SampledFrom([]time.Duration{0, 20 * time.Minute, 5 * time.Hour, 50 * time.Hour}).Draw(t, "review delay")}
		if rapid.IntRange(0, 3).Draw(t, "review rejects") == 0 {
			a.outcome = onboarding.ReviewRejected
		}
		d.answers = append(d.answers, a)
	}
	for i := range rapid.IntRange(0, 2).Draw(t, "app outages") {
		from := time.Duration(rapid.IntRange(0, 72).Draw(t, fmt.Sprintf("outage %d from (h)", i))) * time.Hour
		d.down = append(d.down, window{from, from + time.Duration(rapid.IntRange(1, 8*60).Draw(t, "outage (min)"))*time.Minute})
	}
	for i := range rapid.IntRange(0, 3).Draw(t, "cuts") {
		c := cut{
			at:   time.Duration(rapid.IntRange(0, 80*60).Draw(t, fmt.Sprintf("cut %d at (min)", i))) * time.Minute,
			kind: rapid.SampledFrom([]cutKind{cutContinue, cutReset, cutTerminate}).Draw(t, "cut kind"),
		}
		if c.kind == cutTerminate {
			c.retry = rapid.SampledFrom([]time.Duration{time.Minute, time.Hour, 30 * time.Hour}).Draw(t, "operator retries after")
		}
		d.cuts = append(d.cuts, c)
	}
	slices.SortFunc(d.cuts, func(a, b cut) int { return int(a.at - b.at) })
	return d
}

// handedAt is one hand-over signal and when it arrives.
type handedAt struct {
	at time.Time
	c  onboarding.Change
}

// onboardingRun is what one user's onboarding did in a schedule.
type onboardingRun struct {
	changes  []onboarding.Change
	outcomes map[string]string // the review answer each gated change took
	resets   int               // and terminates: runs cut without handing over
}

// runOnboarding runs user's onboarding over what the sessions handed over
// since the last call, run after run as Temporal would: a new run at the
// first hand-over after a run closed (SignalWithStart), a continuation
// when it continues as new, and, at a drawn reset, a new run from the
// reset run's input with every signal that run had (Temporal re-applies
// them). A reset to a later workflow task keeps what the run did by then;
// the store's take and finish make a reset to the first task the harder
// case, so that is the one drawn.
func (w *world) runOnboarding(t fataler, user string, draw func(n int) onboardingDraws) onboardingRun {
	changes := w.handed.take(user)
	res := onboardingRun{changes: changes, outcomes: map[string]string{}}
	// The answers a reset run took for changes it was still on: the
	// change's finish may have landed in the store before the reset (the
	// new run finds it done before, and the answer stood), or not (the
	// new run's gate is answered again).
	resetAnswers := map[string]string{}
	if len(changes) == 0 {
		return res
	}
	d := draw(len(changes))
	plan := onboarding.Plan{Review: d.review, Idle: d.idle}
	if len(d.review) > 0 {
		plan.Steps = append(plan.Steps, onboarding.StepReview)
	}
	plan.Steps = append(plan.Steps, onboarding.StepNotify)
	index := map[string]int{}
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	var pending []handedAt
	at := t0
	for i, c := range changes {
		at = at.Add(d.gaps[i])
		pending = append(pending, handedAt{at, c})
		if _, ok := index[c.ID]; !ok {
			index[c.ID] = i
		}
	}
	down := func(now time.Time) bool {
		return slices.ContainsFunc(d.down, func(o window) bool { return !now.Before(t0.Add(o.from)) && now.Before(t0.Add(o.to)) })
	}
	cuts := slices.Clone(d.cuts)
	var in onboarding.Input
	carried := false
	var start time.Time
	for runs := 0; len(pending) > 0 || carried; runs++ {
		if runs > 200 {
			t.Fatalf("onboarding of %s: more than 200 runs", user)
		}
		if !carried {
			start, in = pending[0].at, onboarding.Input{}
		}
		var suite testsuite.WorkflowTestSuite
		suite.SetLogger(w.quiet)
		env := suite.NewTestWorkflowEnvironment()
		env.SetStartTime(start)
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: onboarding.WorkflowID(user)})
		env.RegisterActivity(w.acts)
		// Every run of the onboarding has a run id of its own, as in
		// Temporal (the test environment gives all the same one).
		runID := fmt.Sprintf("run-%d", runs)
		env.OnActivity(w.acts.TakeChangeToFinish, mock.Anything, mock.Anything).Return(func(ctx context.Context, id string) (bool, error) {
			return activities.TakeFor(ctx, w.users, id, onboarding.WorkflowID(user), runID, true)
		})
		env.OnActivity(w.acts.NotifyApp, mock.Anything, mock.Anything).Return(
			func(ctx context.Context, n activities.Notification) (activities.NotifyResult, error) {
				if down(env.Now()) {
					return activities.NotifyResult{}, errors.New("the app answers 503")
				}
				return w.acts.NotifyApp(ctx, n)
			})
		o := &workflows.Onboarding{Plan: plan, ActivityTimeout: time.Minute}
		env.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})

		// The hand-overs, each at its time; the run's own list of them.
		var received []onboarding.Change
		var signalledAt []time.Time
		next := 0
		var deliver func()
		deliver = func() {
			if env.IsWorkflowCompleted() {
				return // closed with the timer that came at the same time: the next run's (SignalWithStart)
			}
			for next < len(pending) && !pending[next].at.After(env.Now()) {
				env.SignalWorkflow(onboarding.SignalChange, pending[next].c)
				received = append(received, pending[next].c)
				signalledAt = append(signalledAt, env.Now())
				next++
			}
			if next < len(pending) {
				env.RegisterDelayedCallback(deliver, pending[next].at.Sub(env.Now()))
			}
		}
		if len(pending) > 0 {
			env.RegisterDelayedCallback(deliver, max(0, pending[0].at.Sub(start)))
		}

		// The reviewer looks every ten minutes and answers a change at
		// the gate once it has waited the drawn delay.
		waitingSince := map[string]time.Time{}
		asked := map[string]bool{}
		answered := map[string]string{} // this run's answers: a reset drops them with the run
		var review func()
		review = func() {
			if v, err := env.QueryWorkflow(onboarding.QueryState); err == nil {
				var st onboarding.State
				if v.Get(&st) == nil && st.Waiting == onboarding.StepReview && st.Current != nil {
					id := st.Current.ID
					if _, ok := waitingSince[id]; !ok {
						waitingSince[id] = env.Now()
					}
					a := d.answers[index[id]]
					if !asked[id] && !env.Now().Before(waitingSince[id].Add(a.delay)) {
						asked[id] = true
						env.UpdateWorkflow(onboarding.UpdateReview, id+"/"+fmt.Sprint(runs), &testsuite.TestUpdateCallback{
							OnReject: func(error) {}, OnAccept: func() { answered[id] = a.outcome }, OnComplete: func(any, error) {},
						}, onboarding.Review{ChangeID: id, Outcome: a.outcome, Reviewer: "reviewer-1"})
					}
				}
			}
			env.RegisterDelayedCallback(review, 10*time.Minute)
		}
		env.RegisterDelayedCallback(review, 10*time.Minute)

		// The next drawn cut, if it comes while this run lives.
		var kind cutKind
		var retryAfter time.Duration
		for len(cuts) > 0 && t0.Add(cuts[0].at).Before(start) {
			cuts = cuts[1:]
		}
		if len(cuts) > 0 {
			c := cuts[0]
			env.RegisterDelayedCallback(func() {
				kind, retryAfter, cuts = c.kind, c.retry, cuts[1:]
				env.CancelWorkflow()
			}, t0.Add(c.at).Sub(start))
		}

		env.ExecuteWorkflow(onboarding.WorkflowName, in)
		if !env.IsWorkflowCompleted() {
			t.Fatalf("onboarding of %s: run did not complete", user)
		}
		err := env.GetWorkflowError()
		finished := map[string]bool{} // the changes this run saw to the end
		if v, qerr := env.QueryWorkflow(onboarding.QueryState); qerr == nil {
			var st onboarding.State
			if v.Get(&st) == nil {
				for _, d := range st.Done {
					finished[d.ChangeID] = true
					if o, ok := resetAnswers[d.ChangeID]; ok && slices.Equal(d.Steps, []string{"done before"}) && res.outcomes[d.ChangeID] == "" {
						res.outcomes[d.ChangeID] = o
					}
				}
				if l, ok := t.(interface{ Logf(string, ...any) }); ok {
					l.Logf("onboarding run %d of %s ended (%v, cut %q): done %+v", runs, user, err, kind, st.Done)
				}
			}
		}
		var can *workflow.ContinueAsNewError
		carried = false
		switch {
		case kind == cutTerminate:
			// Terminated: what the run received goes with it. The store
			// owes it still; the next hand-over starts a run that reads
			// it, and the operator's retry (drawn while later hand-overs
			// may still come) hands it again.
			res.resets++
			cutAnswers(answered, finished, res.outcomes, resetAnswers)
			owed, err := w.acts.OwedChanges(context.Background(), user)
			if err != nil {
				t.Fatal(err)
			}
			retry := env.Now().Add(retryAfter)
			rest := pending[next:]
			i := 0
			for i < len(rest) && !rest[i].at.After(retry) {
				i++
			}
			again := slices.Clone(rest[:i])
			for _, c := range owed.Changes {
				again = append(again, handedAt{retry, c})
			}
			pending = append(again, rest[i:]...)
			continue
		case kind == cutReset:
			// Reset: a new run from this run's input, with every signal it
			// had, at the moment of the reset. An answer for a change the
			// run finished stands; one for a change it was still on stands
			// only if the change's finish reached the store (resetAnswers).
			res.resets++
			cutAnswers(answered, finished, res.outcomes, resetAnswers)
			again := make([]handedAt, 0, len(received)+len(pending)-next)
			for _, c := range received {
				again = append(again, handedAt{env.Now(), c})
			}
			pending = append(again, pending[next:]...)
			carried, start = true, env.Now()
			continue
		case errors.As(err, &can):
			maps.Copy(res.outcomes, answered)
			in = onboarding.Input{}
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				t.Fatal(err)
			}
			carried, start = true, env.Now()
		case err != nil:
			t.Fatalf("onboarding of %s: %v", user, err)
		default:
			maps.Copy(res.outcomes, answered)
		}
		// The test environment takes a signal sent at the instant the run
		// closes (or continues as new) and drops it; Temporal would fail
		// that last task and run it again with the signal, or start a new
		// run with it. The next run gets it again (a repeat is harmless:
		// the store's take says its steps ran).
		var again []handedAt
		for i, c := range received {
			if signalledAt[i].Equal(env.Now()) {
				again = append(again, handedAt{env.Now(), c})
			}
		}
		pending = append(again, pending[next:]...)
	}
	return res
}

// cutAnswers sorts the answers a run that was cut (reset, terminated)
// took: one for a change the run finished stands (outcomes); one for a
// change it was still on stands only if the change's finish reached the
// store before the cut (pending: the next run finds it done before).
func cutAnswers(answered map[string]string, finished map[string]bool, outcomes, pending map[string]string) {
	for id, o := range answered {
		if finished[id] {
			outcomes[id] = o
		} else {
			pending[id] = o
		}
	}
}

// changeOf is the id of the newest change handed over for session's
// status ("" if none was).
func (r onboardingRun) changeOf(session, status string) string {
	id := ""
	var newest onboarding.Change
	for _, c := range r.changes {
		if c.SessionID == session && c.Status == status && (id == "" || onboarding.Compare(c, newest) > 0) {
			id, newest = c.ID, c
		}
	}
	return id
}

// notifications runs user's onboarding over what was handed over since
// the last call (nothing drawn) and returns every post the app received
// for user.
func (w *world) notifications(t fataler, user string) []schedules.Notification {
	w.runOnboarding(t, user, plainOnboarding)
	return w.appGot(user)
}

// checkOnboarding holds R11's promise to the app on what user's onboarding
// did: every post is a handed change's; a change's posts carry one
// webhook-id and come once unless a reset ran its step again; every change
// no gate held back is posted, a gated one only once its review passed;
// the verdicts are posted in the record's order; the last verdict posted
// is the greatest handed (the record's), unless its review rejected it.
func checkOnboarding(t fataler, run onboardingRun, sent []schedules.Notification, review []string) {
	if l, ok := t.(interface{ Logf(string, ...any) }); ok {
		for _, c := range run.changes {
			l.Logf("handed: %s %s %s/%s at %s verdict %v, review %q", c.ID, c.Status, c.Provider, c.SessionID, c.At.Format(time.RFC3339Nano), c.Verdict, run.outcomes[c.ID])
		}
		for _, n := range sent {
			l.Logf("app got: %s %s %s", n.WebhookID, n.Data.Status, n.Data.DecidedAt.Format(time.RFC3339Nano))
		}
	}
	byID := map[string]onboarding.Change{}
	for _, c := range run.changes {
		byID[c.ID] = c
	}
	posts := map[string]int{}
	var verdicts []onboarding.Change
	for _, n := range sent {
		id, ok := strings.CutPrefix(n.WebhookID, "msg_")
		c, known := byID[id]
		if !ok || !known {
			t.Fatalf("R11: the app got %s, which names no change handed over (%v)", n.WebhookID, n.Data)
		}
		if posts[id]++; posts[id] > 1 {
			if run.resets == 0 {
				t.Fatalf("R11: change %s (%s) posted %d times with no reset or terminate", id, c.Status, posts[id])
			}
			continue
		}
		if c.Verdict {
			verdicts = append(verdicts, c)
		}
	}
	var greatest *onboarding.Change
	for _, c := range run.changes {
		gated := slices.Contains(review, c.Status)
		switch {
		case !gated && posts[c.ID] == 0:
			t.Fatalf("R11: the app never heard of %s (%s, no gate holds it)", c.ID, c.Status)
		case gated && run.outcomes[c.ID] == onboarding.ReviewRejected && posts[c.ID] > 0:
			t.Fatalf("R11: the app heard of %s (%s), which its review rejected", c.ID, c.Status)
		case gated && run.outcomes[c.ID] == onboarding.ReviewPassed && posts[c.ID] == 0:
			t.Fatalf("R11: the app never heard of %s (%s), whose review passed", c.ID, c.Status)
		case gated && run.outcomes[c.ID] == "" && posts[c.ID] == 0 && !superseded(c, run.changes):
			// The reviewer answers every change the gate waits for: a wait
			// ends unanswered only when a change that supersedes it came
			// (or its answer went with a run reset after the post).
			t.Fatalf("R11: %s (%s) left the gate unanswered, and no newer change supersedes it", c.ID, c.Status)
		}
		if c.Verdict && (greatest == nil || onboarding.Compare(c, *greatest) > 0) {
			g := c
			greatest = &g
		}
	}
	for i := 1; i < len(verdicts); i++ {
		if onboarding.Compare(verdicts[i], verdicts[i-1]) <= 0 {
			t.Fatalf("R11: the app heard of verdict %s (%s %s) after %s (%s %s)", verdicts[i].ID, verdicts[i].Status, verdicts[i].At,
				verdicts[i-1].ID, verdicts[i-1].Status, verdicts[i-1].At)
		}
	}
	if greatest == nil || run.outcomes[greatest.ID] == onboarding.ReviewRejected {
		return
	}
	if len(verdicts) == 0 || verdicts[len(verdicts)-1].ID != greatest.ID {
		t.Fatalf("R11: the app's last verdict is %v, the record's is %s (%s %s)", verdicts, greatest.ID, greatest.Status, greatest.At)
	}
}

// superseded reports whether a change handed over supersedes c at the
// review gate (R11): for a verdict, a newer verdict (a verdict changes
// only by a newer verdict, R2); for a session outcome, any newer change.
func superseded(c onboarding.Change, all []onboarding.Change) bool {
	return slices.ContainsFunc(all, func(o onboarding.Change) bool {
		return onboarding.Compare(o, c) > 0 && (o.Verdict || !c.Verdict)
	})
}

package workflows_test

// R11: a user's onboarding runs beside the record, never in its way
// (issue 22).

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/activities/notify"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit/schedules"
	"github.com/idvflow/idvflow/workflows"
)

// handed is one change a session handed to the user's onboarding, and when.
type handed struct {
	at time.Time
	c  onboarding.Change
}

// handRecorder stands in for Temporal's SignalWithStart: it keeps what a
// session handed over, with the test environment's time.
type handRecorder struct {
	mu  sync.Mutex
	now func() time.Time
	got []handed
}

func (r *handRecorder) Hand(_ context.Context, _ string, c onboarding.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, handed{r.now(), c})
	return nil
}

// TestR11AppDownSixHours is issue 22's first "done when": the app's
// endpoint is down for 6 hours while a newer decision, a screening and
// 3,000 repeats arrive. The session applies the newer decision when it
// arrives (it hands each change over and never calls the app); the user's
// onboarding delivers both notifications, in the record's order, each
// once, when the app is back.
func TestR11AppDownSixHours(t *testing.T) {
	w := sharedWorld(t)
	t0 := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	user, id := "user-r11-app-down", "r11-app-down"
	approved := veriff.DecisionBody(id, "a1", user, "approved", t0.Add(time.Minute))
	deliveries := []schedules.Delivery{
		arrive(veriff.Name, t0.Add(time.Minute), approved),
		arrive(veriff.Name, t0.Add(time.Hour), veriff.DecisionBody(id, "a1", user, "declined", t0.Add(time.Hour))),
		arrive(veriff.Name, t0.Add(time.Hour+time.Minute), veriff.ScreeningBody(id, "a1", user, "pep_sanctions", "possible_match", t0.Add(time.Hour+time.Minute))),
	}
	for i := range 3000 { // the provider repeats the approval every 5 s for 4 hours
		deliveries = append(deliveries, arrive(veriff.Name, t0.Add(2*time.Minute+time.Duration(i)*5*time.Second), approved))
	}
	slices.SortStableFunc(deliveries, func(a, b schedules.Delivery) int { return a.At.Compare(b.At) })

	// 1. The session, with the hand-over recorded.
	rec := &handRecorder{}
	was := w.acts.Onboarding
	w.acts.Onboarding = rec
	defer func() { w.acts.Onboarding, w.prepare = was, nil }()
	w.prepare = func(env *testsuite.TestWorkflowEnvironment, _ int) { rec.now = env.Now }
	runs := w.runAll(t, schedules.Skipping.Config, veriff.Name, id, deliveries, func(time.Time) {}, false)

	u, err := w.users.Get(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != "declined" || u.ScreeningStatus != "possible_match" {
		t.Fatalf("record %s, screening %q; want declined, possible_match", u.Status, u.ScreeningStatus)
	}
	if len(rec.got) != 2 || rec.got[0].c.Status != "approved" || rec.got[1].c.Status != "declined" {
		t.Fatalf("handed over %+v; want the approval, then the decline, once each", rec.got)
	}
	// The decline reached the record, and the onboarding, the minute it
	// came: nothing waited for the app.
	if d := rec.got[1].at.Sub(t0.Add(time.Hour)); d < 0 || d > time.Minute {
		t.Fatalf("the decline was applied %s after it arrived; want within a minute", d)
	}
	t.Logf("session: %d runs for %d deliveries", runs, len(deliveries))

	// 2. The user's onboarding, fed what the session handed over, when it
	// did, each hand-over twice (a retried SignalWithStart), with the app
	// answering 503 until T0+6h.
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(w.quiet)
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(rec.got[0].at)
	back := t0.Add(6 * time.Hour)
	app := newApp(t, env.Now, back)
	acts := &activities.Activities{Notify: app.client, Users: testStore(t)}
	env.RegisterActivity(acts)
	plan := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: 10 * time.Minute}
	o := &workflows.Onboarding{Plan: plan, ActivityTimeout: time.Minute}
	env.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})
	for i, h := range rec.got {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(onboarding.SignalChange, h.c)
			env.SignalWorkflow(onboarding.SignalChange, h.c)
		}, h.at.Sub(rec.got[0].at)+time.Duration(i)) // the first at once
	}
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("onboarding: completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	got := app.delivered()
	if len(got) != 2 || got[0].Data.Status != "approved" || got[1].Data.Status != "declined" ||
		got[0].WebhookID != "msg_"+rec.got[0].c.ID || got[1].WebhookID != "msg_"+rec.got[1].c.ID {
		t.Fatalf("delivered %+v; want the approval, then the decline, once each, named by the store", got)
	}
	for _, n := range got {
		if n.at.Before(back) {
			t.Fatalf("delivered at %s, while the app was down", n.at)
		}
	}
	if app.refused() < 20 {
		t.Fatalf("the app refused %d attempts; the outage was not exercised", app.refused())
	}
}

// app is the team's endpoint: down (503) until back on the test
// environment's clock, then it keeps each message.
type app struct {
	mu      sync.Mutex
	client  *notify.Client
	got     []sentAt
	refusal int
}

type sentAt struct {
	WebhookID string
	Data      activities.Notification
	at        time.Time
}

func newApp(t *testing.T, now func() time.Time, back time.Time) *app {
	a := &app{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if now().Before(back) {
			a.refusal++
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var body struct{ Data activities.Notification }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		a.got = append(a.got, sentAt{r.Header.Get("webhook-id"), body.Data, now()})
	}))
	t.Cleanup(srv.Close)
	key, _ := notify.ParseSecret("whsec_" + "bm90aWZ5LXNlY3JldC1ub3RpZnktc2VjcmV0LTAxMjM=")
	a.client = notify.New(srv.URL, key, httpapi.NewClient(httpapi.Options{RetryMax: -1}))
	return a
}

func (a *app) delivered() []sentAt {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

func (a *app) refused() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.refusal
}

// testStore is a user store of the test's own.
func testStore(t *testing.T) *userstore.Store {
	t.Helper()
	users, err := userstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { users.Close() })
	return users
}

// onboardingEnv runs one onboarding with plan in the test environment,
// with the app up, from start, on users (a store of its own when nil).
func onboardingEnv(t *testing.T, start time.Time, plan onboarding.Plan, users *userstore.Store) (*testsuite.TestWorkflowEnvironment, *app) {
	if users == nil {
		users = testStore(t)
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sharedWorld(t).quiet)
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	a := newApp(t, env.Now, time.Time{})
	env.RegisterActivity(&activities.Activities{Notify: a.client, Users: users})
	o := &workflows.Onboarding{Plan: plan, ActivityTimeout: time.Minute}
	env.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})
	return env, a
}

func change(id, status string, at time.Time) onboarding.Change {
	return onboarding.Change{ID: id, UserID: "user-r11-gate", Provider: veriff.Name, SessionID: "r11-gate",
		Status: status, At: at, Verdict: status == "approved" || status == "declined"}
}

func onboardingState(t *testing.T, env *testsuite.TestWorkflowEnvironment) onboarding.State {
	t.Helper()
	v, err := env.QueryWorkflow(onboarding.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st onboarding.State
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// R11: the review gate holds an approval until a person answers with the
// review Update; an answer for another change is refused before it is
// written; the app hears of the approval only after the gate passed.
func TestR11ReviewGate(t *testing.T) {
	t0 := time.Date(2026, 10, 6, 9, 0, 0, 0, time.UTC)
	plan := onboarding.Plan{Steps: []string{onboarding.StepReview, onboarding.StepNotify}, Review: []string{"approved"}, Idle: time.Minute}
	env, app := onboardingEnv(t, t0, plan, nil)
	approved := change("c-approved", "approved", t0)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, approved) }, 0)
	var refused, taken error
	var waiting string
	env.RegisterDelayedCallback(func() {
		waiting = onboardingState(t, env).Waiting
		env.UpdateWorkflow(onboarding.UpdateReview, "wrong", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { refused = err },
			OnAccept: func() { t.Error("an answer for another change was accepted") }, OnComplete: func(any, error) {},
		}, onboarding.Review{ChangeID: "c-other", Outcome: onboarding.ReviewPassed, Reviewer: "officer-7"})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(onboarding.UpdateReview, "right", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { taken = err }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, onboarding.Review{ChangeID: approved.ID, Outcome: onboarding.ReviewPassed, Reviewer: "officer-7"})
	}, 2*time.Hour)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	if err := env.GetWorkflowError(); err != nil || !env.IsWorkflowCompleted() {
		t.Fatalf("onboarding: %v", err)
	}
	if waiting != onboarding.StepReview || refused == nil || taken != nil {
		t.Fatalf("waiting %q, wrong answer refused: %v, right answer refused: %v", waiting, refused, taken)
	}
	got := app.delivered()
	if len(got) != 1 || got[0].Data.Status != "approved" || got[0].at.Before(t0.Add(2*time.Hour)) {
		t.Fatalf("delivered %+v; want the approval once, after the review (%s)", got, t0.Add(2*time.Hour))
	}
}

// R11: a newer change supersedes a wait at the gate: the person reviews
// the newest; the steps after the gate do not run for the older change,
// and the newer one (a decline, which the gate does not hold) is
// delivered. The record was never held: the onboarding only sees it.
func TestR11NewerChangeSupersedesTheGate(t *testing.T) {
	t0 := time.Date(2026, 10, 7, 9, 0, 0, 0, time.UTC)
	plan := onboarding.Plan{Steps: []string{onboarding.StepReview, onboarding.StepNotify}, Review: []string{"approved"}, Idle: time.Hour}
	env, app := onboardingEnv(t, t0, plan, nil)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, change("c-approved", "approved", t0)) }, 0)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(onboarding.SignalChange, change("c-declined", "declined", t0.Add(time.Hour)))
	}, time.Hour)
	var st onboarding.State
	env.RegisterDelayedCallback(func() { st = onboardingState(t, env) }, time.Hour+time.Minute)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	if err := env.GetWorkflowError(); err != nil || !env.IsWorkflowCompleted() {
		t.Fatalf("onboarding: %v", err)
	}
	got := app.delivered()
	if len(got) != 1 || got[0].Data.Status != "declined" {
		t.Fatalf("delivered %+v; want the decline only", got)
	}
	if len(st.Done) != 2 || !slices.Equal(st.Done[0].Steps, []string{"superseded", "notify-app: skipped"}) ||
		!slices.Equal(st.Done[1].Steps, []string{"review: not held", "done"}) {
		t.Fatalf("outcomes %+v", st.Done)
	}
}

// R11, R10: an onboarding hands over to a new run at 2,000 signals, here
// while its notify step waits for an app that is down, carrying the change
// in progress and the step it was at; the next run delivers the change,
// once, and drops the repeats it carried the ids of.
func TestR11OnboardingContinuesAsNew(t *testing.T) {
	t0 := time.Date(2026, 10, 9, 9, 0, 0, 0, time.UTC)
	c := change("c-approved", "approved", t0)
	plan := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute}

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sharedWorld(t).quiet)
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	users := testStore(t)
	app := newApp(t, env.Now, t0.Add(24*time.Hour)) // down for the whole first run
	env.RegisterActivity(&activities.Activities{Notify: app.client, Users: users})
	o := &workflows.Onboarding{Plan: plan, ActivityTimeout: time.Minute}
	env.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})
	for i := range 21 { // a hand-over retried, over and over: 2,100 times
		// (100 a callback: the environment's callback queue is bounded)
		env.RegisterDelayedCallback(func() {
			for range 100 {
				env.SignalWorkflow(onboarding.SignalChange, c)
			}
		}, time.Minute+time.Duration(i)*time.Second)
	}
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, c) }, 0)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("first run: %v, want continue-as-new", err)
	}
	var next onboarding.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	carried := next.Carried
	if carried == nil || carried.Current == nil || carried.Current.ID != c.ID || len(carried.Queued) != 0 || !slices.Contains(carried.Seen, c.ID) {
		t.Fatalf("carried %+v; want the change in progress, nothing queued, its id seen", carried)
	}

	env2, app2 := onboardingEnv(t, t0.Add(2*time.Hour), onboarding.Plan{}, users)                         // the plan is carried
	env2.RegisterDelayedCallback(func() { env2.SignalWorkflow(onboarding.SignalChange, c) }, time.Second) // one more repeat
	env2.ExecuteWorkflow(onboarding.WorkflowName, next)
	if err := env2.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := app2.delivered(); len(got) != 1 || got[0].WebhookID != "msg_"+c.ID || len(app.delivered()) != 0 {
		t.Fatalf("delivered %+v (first run %+v); want the change once, by the second run", got, app.delivered())
	}
}

// R11: an app that refuses a change for good (a 4xx) fails the step
// visibly, in the state query; the onboarding goes on with the next change.
func TestR11StepFailsVisibly(t *testing.T) {
	t0 := time.Date(2026, 10, 10, 9, 0, 0, 0, time.UTC)
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sharedWorld(t).quiet)
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	var calls atomic.Int32 // the server's handlers run on goroutines of their own
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		rw.WriteHeader(http.StatusUnprocessableEntity)
	}))
	defer srv.Close()
	key, _ := notify.ParseSecret("whsec_" + "bm90aWZ5LXNlY3JldC1ub3RpZnktc2VjcmV0LTAxMjM=")
	env.RegisterActivity(&activities.Activities{Notify: notify.New(srv.URL, key, httpapi.NewClient(httpapi.Options{RetryMax: -1})), Users: testStore(t)})
	o := &workflows.Onboarding{Plan: onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: time.Minute}, ActivityTimeout: time.Minute}
	env.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(onboarding.SignalChange, change("c-1", "approved", t0))
		env.SignalWorkflow(onboarding.SignalChange, change("c-2", "declined", t0.Add(time.Minute)))
	}, 0)
	var st onboarding.State
	env.RegisterDelayedCallback(func() { st = onboardingState(t, env) }, 30*time.Second)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(st.Done) != 2 || !strings.HasPrefix(st.Done[0].Steps[0], "notify-app: failed: ") || !strings.HasPrefix(st.Done[1].Steps[0], "notify-app: failed: ") || calls.Load() != 2 {
		t.Fatalf("outcomes %+v after %d calls; want each change's step failed once, visibly", st.Done, calls.Load())
	}
}

// R11 (docs/semantics.md): a step that waits for a person (the review
// gate) stops waiting when a newer change (one the record orders after it)
// is queued; an older one waits its turn, and the steps run for each change
// in the record's order.
//
// Two sessions of one user decide close together: session A's approval
// (T0) is committed first but its hand-over lands second (a retried
// SignalWithStart), session B's decline (T0+1m, the record's verdict) is
// handed over first and waits at the gate (IDV_REVIEW_STATUSES=approved,
// declined). The older approval, queued, does not end the decline's wait
// as "superseded": the decline stays under review, the reviewer's answer
// for it is taken, and the app is told of the decline (the record's
// status).
func TestR11OlderChangeDoesNotSupersedeTheGate(t *testing.T) {
	t0 := time.Date(2026, 10, 7, 9, 0, 0, 0, time.UTC)
	plan := onboarding.Plan{Steps: []string{onboarding.StepReview, onboarding.StepNotify},
		Review: []string{"approved", "declined"}, Idle: time.Minute}
	declined := change("c-declined", "declined", t0.Add(time.Minute)) // newer: the record's verdict
	approved := change("c-approved", "approved", t0)                  // older, handed over late
	st, app, refused := gateRun(t, t0, plan, declined, approved, time.Second)

	if st.Current == nil || st.Current.ID != declined.ID || st.Waiting != onboarding.StepReview {
		t.Errorf("R11: an OLDER queued change ended the decline's review: current %+v waiting %q done %+v", st.Current, st.Waiting, st.Done)
	}
	if refused != nil {
		t.Errorf("the reviewer's answer for the decline (the record's verdict) was refused: %v", refused)
	}
	var statuses []string
	for _, n := range app.delivered() {
		statuses = append(statuses, n.Data.Status)
	}
	if len(statuses) == 0 || statuses[len(statuses)-1] != "declined" {
		t.Errorf("the app was told %v; it never heard of the decline the record holds", statuses)
	}
}

// R11 with R2 at the gate: a decline (the record's verdict) waits for a
// reviewer; a later session of the same user expires. The expiry is a
// session outcome, not a verdict: it does not supersede the decline's
// wait. The reviewer's answer for the decline is taken, and the app hears
// the decline, then the expiry, so its last verdict is the record's.
func TestR11SessionOutcomeDoesNotSupersedeAVerdictAtTheGate(t *testing.T) {
	t0 := time.Date(2026, 10, 8, 9, 0, 0, 0, time.UTC)
	plan := onboarding.Plan{Steps: []string{onboarding.StepReview, onboarding.StepNotify},
		Review: []string{"declined"}, Idle: time.Minute}
	declined := change("c-declined", "declined", t0)
	expired := change("c-expired", "expired", t0.Add(time.Hour)) // a later session's outcome
	st, app, refused := gateRun(t, t0, plan, declined, expired, time.Minute)

	if st.Current == nil || st.Current.ID != declined.ID || st.Waiting != onboarding.StepReview {
		t.Errorf("R11: a later session's expiry ended the decline's review: current %+v waiting %q done %+v", st.Current, st.Waiting, st.Done)
	}
	if refused != nil {
		t.Errorf("the reviewer's answer for the decline (the record's verdict) was refused: %v", refused)
	}
	var got []string
	for _, n := range app.delivered() {
		got = append(got, n.Data.Status+"/"+string(n.Data.Kind))
	}
	want := []string{"declined/" + string(activities.NotifyVerdict), "expired/" + string(activities.NotifySessionOutcome)}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the app heard %v, want %v (the decline, then the expiry: its last verdict the record's)", got, want)
	}
}

// gateRun hands gated to an onboarding run of plan, then later after
// delay; an hour in, it reads the run's state, and a minute after that a
// reviewer passes gated. It returns that state, the app the run notifies,
// and the reviewer's refusal if any.
func gateRun(t *testing.T, t0 time.Time, plan onboarding.Plan, gated, later onboarding.Change, delay time.Duration) (onboarding.State, *app, error) {
	t.Helper()
	env, app := onboardingEnv(t, t0, plan, nil)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, gated) }, 0)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(onboarding.SignalChange, later) }, delay)
	var st onboarding.State
	env.RegisterDelayedCallback(func() { st = onboardingState(t, env) }, time.Hour)
	var refused error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(onboarding.UpdateReview, "officer", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { refused = err }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, onboarding.Review{ChangeID: gated.ID, Outcome: onboarding.ReviewPassed, Reviewer: "officer-7"})
	}, time.Hour+time.Minute)
	env.SetTestTimeout(time.Minute)
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{})
	return st, app, refused
}

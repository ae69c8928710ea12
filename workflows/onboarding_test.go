package workflows_test

// R11: a user's onboarding runs beside the record, never in its way
// (issue 22).

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/activities/notify"
	"github.com/idvflow/idvflow/internal/testkit/schedules"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/providers/veriff"
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
	acts := &activities.Activities{Notify: app.client}
	env.RegisterActivity(acts)
	o := &workflows.Onboarding{ActivityTimeout: time.Minute}
	env.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})
	for i, h := range rec.got {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(onboarding.SignalChange, h.c)
			env.SignalWorkflow(onboarding.SignalChange, h.c)
		}, h.at.Sub(rec.got[0].at)+time.Duration(i)) // the first at once
	}
	plan := onboarding.Plan{Steps: []string{onboarding.StepNotify}, Idle: 10 * time.Minute}
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{Plan: plan})
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

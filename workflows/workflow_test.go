package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/registry"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/testkit/schedules"

	_ "github.com/idvflow/idvflow/activities/userstore/drivers" // the store's SQL drivers

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/workflows"
)

const (
	identity = "b76e244e-26a3-49ef-9c72-3e599bf0b5f2"
	session  = "12df6045-3846-3e45-946a-14fa6136d78b"
)

// t0 is when the provider's events happen in these tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// harness runs VerificationWorkflow in the time-skipping test environment
// with the real activities: the provider emulator over HTTP and a SQLite
// user store.
type harness struct {
	t     *testing.T
	acts  *activities.Activities
	env   *testsuite.TestWorkflowEnvironment
	emu   *emulator.Emulator
	users *userstore.Store
	cfg   workflows.Config
}

func newHarness(t *testing.T, setup ...func(*testsuite.WorkflowTestSuite)) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	for _, f := range setup {
		f(&suite)
	}
	env := suite.NewTestWorkflowEnvironment()
	emu, srv, vars, err := testkit.StartEmulator(context.Background(), emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	users, err := userstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { users.Close() })
	hc := httpapi.NewClient(httpapi.Options{Timeout: time.Second, RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	acts := &activities.Activities{Users: users}
	cfg := workflows.DefaultConfig()
	acts.Providers, cfg.Rules = providerAPIs(t, vars, hc)
	env.RegisterActivity(acts)
	h := &harness{t: t, acts: acts, env: env, emu: emu, users: users, cfg: cfg}
	return h
}

// providerAPIs builds every provider's API and rules the way the worker
// does, from env: the variables that point a worker at the emulator.
func providerAPIs(t *testing.T, env map[string]string, hc *retryablehttp.Client) (map[string]activities.ProviderAPI, map[string]workflows.Rules) {
	t.Helper()
	cs, err := registry.Load(context.Background(), envconfig.MapLookuper(env))
	if err != nil {
		t.Fatal(err)
	}
	apis := cs.APIs(hc)
	return apis, cs.Rules()
}

// identity registers the Passbase identity behind the tests' session.
func (h *harness) identity(status string, updated time.Time) {
	h.emu.Put(passbase.Name, identity, passbase.IdentityObject(identity, "user-1", status, t0, updated))
}

// at delivers ev after d of workflow time, stamped with its arrival as the
// receiver stamps it.
func (h *harness) at(d time.Duration, ev workflows.Event) {
	h.env.RegisterDelayedCallback(func() {
		ev.ReceivedAt = h.env.Now().UTC()
		h.env.SignalWorkflow(workflows.SignalEvent, ev)
	}, d)
}

// receive is what the receiver signals for a webhook body built by the
// provider's package.
func receive(provider string, body []byte) workflows.Event {
	ev, ok := schedules.Receive(provider, body)
	if !ok {
		panic("the receiver signals nothing for this " + provider + " webhook: " + string(body))
	}
	return ev
}

func (h *harness) run(provider, sessionID string) (workflows.Result, error) {
	h.t.Helper()
	v := &workflows.Verification{Config: h.cfg}
	h.env.RegisterWorkflowWithOptions(v.VerificationWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	h.env.ExecuteWorkflow(workflows.WorkflowName, workflows.Input{Provider: provider, SessionID: sessionID})
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	var r workflows.Result
	err := h.env.GetWorkflowError()
	if err == nil {
		if err := h.env.GetWorkflowResult(&r); err != nil {
			h.t.Fatal(err)
		}
	}
	return r, err
}

// stateAt answers the state query after d of workflow time; the returned
// state is filled in while the run executes.
func (h *harness) stateAt(d time.Duration) *workflows.SessionState {
	st := &workflows.SessionState{}
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(workflows.QueryState)
		if err != nil {
			h.t.Errorf("query: %v", err)
			return
		}
		if err := v.Get(st); err != nil {
			h.t.Errorf("decode state: %v", err)
		}
	}, d)
	return st
}

func (h *harness) user(id string) userstore.User {
	h.t.Helper()
	u, err := h.users.Get(context.Background(), id)
	if err != nil {
		h.t.Fatalf("user %s: %v", id, err)
	}
	return u
}

// statuses lists the statuses of the user's applied decision changes.
func statuses(u userstore.User) string {
	var s []string
	for _, c := range u.History {
		if c.Kind == userstore.KindDecision {
			s = append(s, c.Status)
		}
	}
	return strings.Join(s, ",")
}

// pbProcessed is Passbase's processed event (older vocabulary: it names
// user-1).
func pbProcessed(at time.Time) workflows.Event {
	return receive(passbase.Name, passbase.ProcessedBody(passbase.VocabularyLegacy, identity, "user-1", "", at, at))
}

// pbReviewed is Passbase's decision event (newer vocabulary: it names no
// user; the identity does).
func pbReviewed(status workflows.Status, at time.Time) workflows.Event {
	return receive(passbase.Name, passbase.ReviewedBody(passbase.VocabularyNew, identity, "", string(status), t0, at))
}

// vfDecision is Veriff's decision webhook for user-2.
func vfDecision(status workflows.Status, at time.Time) workflows.Event {
	return receive(veriff.Name, veriff.DecisionBody(session, "attempt", "user-2", string(status), at))
}

// vfStarted is Veriff's "started" event for user-2.
func vfStarted() workflows.Event {
	return receive(veriff.Name, veriff.EventBody(session, "attempt", "user-2", veriff.Started))
}

func TestOrders(t *testing.T) {
	orders := map[string][]time.Duration{ // delays of processed, decision
		"processed then decision": {time.Minute, 2 * time.Minute},
		"decision then processed": {2 * time.Minute, time.Minute},
		"both at once":            {time.Minute, time.Minute},
	}
	for name, d := range orders {
		for _, repeats := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s x%d", name, repeats), func(t *testing.T) {
				h := newHarness(t)
				h.identity("approved", t0.Add(time.Minute))
				for range repeats {
					h.at(d[0], pbProcessed(t0))
					h.at(d[1], pbReviewed(workflows.StatusApproved, t0.Add(time.Minute)))
				}
				r, err := h.run("passbase", identity)
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != workflows.StatusApproved || r.UserID != "user-1" {
					t.Fatalf("result %+v", r)
				}
				u := h.user("user-1")
				if u.Status != "approved" || statuses(u) != "approved" {
					t.Fatalf("user %s with decisions %q, want approved once", u.Status, statuses(u))
				}
			})
		}
	}
}

func TestDecisionWithoutProcessedWaitsOnlyTheGrace(t *testing.T) {
	h := newHarness(t)
	h.identity("approved", t0)
	h.at(time.Second, pbReviewed(workflows.StatusApproved, t0))
	duringGrace := h.stateAt(2 * time.Minute)
	start := h.env.Now()
	r, err := h.run("passbase", identity)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != workflows.StatusApproved {
		t.Fatalf("result %+v", r)
	}
	if !strings.Contains(duringGrace.NextStep, "processed") {
		t.Fatalf("during the grace the session waited for %q, want the processed event", duringGrace.NextStep)
	}
	// Grace (5m) + late-event window (24h), and no more.
	if took := h.env.Now().Sub(start); took < 24*time.Hour+5*time.Minute || took > 24*time.Hour+6*time.Minute {
		t.Fatalf("run took %s of workflow time", took)
	}
}

func TestVeriffDoesNotWaitForTheEventWebhookByDefault(t *testing.T) {
	h := newHarness(t)
	h.at(time.Second, vfDecision(workflows.StatusApproved, t0))
	var statusAfterOneMinute string
	h.env.RegisterDelayedCallback(func() {
		u, err := h.users.Get(context.Background(), "user-2")
		if err == nil {
			statusAfterOneMinute = u.Status
		}
	}, time.Minute)
	if _, err := h.run("veriff", session); err != nil {
		t.Fatal(err)
	}
	if statusAfterOneMinute != "approved" {
		t.Fatalf("user status one minute after the decision: %q, want approved", statusAfterOneMinute)
	}
}

func TestNoDecisionPollsThenExpires(t *testing.T) {
	h := newHarness(t)
	h.identity("processing", t0)
	h.at(time.Second, pbProcessed(t0))
	start := h.env.Now()
	r, err := h.run("passbase", identity)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != workflows.StatusExpired {
		t.Fatalf("result %+v, want expired", r)
	}
	if u := h.user("user-1"); u.Status != "expired" {
		t.Fatalf("user %q, want expired", u.Status)
	}
	if calls := h.emu.Calls(identity); calls < 5 {
		t.Fatalf("the provider was polled %d times; want polling on a backoff", calls)
	}
	if took := h.env.Now().Sub(start); took < 7*24*time.Hour || took > 7*24*time.Hour+time.Minute {
		t.Fatalf("expired after %s, want IDV_SESSION_EXPIRY (168h)", took)
	}
}

func TestLostWebhookIsRecoveredByPolling(t *testing.T) {
	h := newHarness(t)
	h.emu.Put(veriff.Name, session, nil)
	h.at(time.Second, vfStarted())
	h.env.RegisterDelayedCallback(func() {
		h.emu.Put(veriff.Name, session, sim.JSON(veriff.Verification(session, "attempt", "user-2", "approved", t0.Add(30*time.Minute))))
	}, 3*time.Hour)
	r, err := h.run("veriff", session)
	if err != nil {
		t.Fatal(err)
	}
	u := h.user("user-2")
	if r.Status != workflows.StatusApproved || u.Status != "approved" || statuses(u) != "approved" {
		t.Fatalf("result %+v, user %q %q", r, u.Status, statuses(u))
	}
}

func TestVeriffResubmissionThenApproved(t *testing.T) {
	h := newHarness(t)
	h.at(time.Minute, vfDecision(workflows.StatusResubmissionRequested, t0))
	var midway string
	h.env.RegisterDelayedCallback(func() { midway = h.user("user-2").Status }, 10*time.Minute)
	h.at(20*time.Minute, vfDecision(workflows.StatusApproved, t0.Add(15*time.Minute)))
	r, err := h.run("veriff", session)
	if err != nil {
		t.Fatal(err)
	}
	if midway != "resubmission_requested" {
		t.Fatalf("status between the decisions: %q", midway)
	}
	u := h.user("user-2")
	if r.Status != workflows.StatusApproved || statuses(u) != "resubmission_requested,approved" {
		t.Fatalf("result %+v decisions %q", r, statuses(u))
	}
}

func TestReReviewInsideTheLateWindow(t *testing.T) {
	h := newHarness(t)
	h.identity("declined", t0.Add(2*time.Hour))
	h.at(time.Minute, pbProcessed(t0))
	h.at(2*time.Minute, pbReviewed(workflows.StatusApproved, t0.Add(time.Minute)))
	h.at(10*time.Hour, pbReviewed(workflows.StatusDeclined, t0.Add(10*time.Hour)))
	r, err := h.run("passbase", identity)
	if err != nil {
		t.Fatal(err)
	}
	u := h.user("user-1")
	if r.Status != workflows.StatusDeclined || u.Status != "declined" || statuses(u) != "approved,declined" {
		t.Fatalf("result %+v, user %q decisions %q", r, u.Status, statuses(u))
	}
}

func TestOlderDecisionAfterNewerIsIgnored(t *testing.T) {
	h := newHarness(t)
	h.identity("declined", t0.Add(time.Hour))
	h.at(time.Minute, pbProcessed(t0))
	h.at(2*time.Minute, pbReviewed(workflows.StatusDeclined, t0.Add(time.Hour)))
	h.at(3*time.Hour, pbReviewed(workflows.StatusApproved, t0.Add(30*time.Minute)))
	r, err := h.run("passbase", identity)
	if err != nil {
		t.Fatal(err)
	}
	u := h.user("user-1")
	if r.Status != workflows.StatusDeclined || statuses(u) != "declined" {
		t.Fatalf("result %+v decisions %q", r, statuses(u))
	}
}

func TestActivityFailuresAreRetried(t *testing.T) {
	h := newHarness(t)
	h.identity("approved", t0)
	// More failures than the HTTP client retries itself: Temporal's activity
	// retry has to take over.
	var faults []emulator.Fault
	for range 6 {
		faults = append(faults, emulator.Fault{Status: 500}, emulator.Fault{Status: 429})
	}
	h.emu.FailNext(identity, faults...)
	h.at(time.Minute, pbProcessed(t0))
	h.at(time.Minute, pbReviewed(workflows.StatusApproved, t0))
	r, err := h.run("passbase", identity)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != workflows.StatusApproved || h.user("user-1").Status != "approved" {
		t.Fatalf("result %+v", r)
	}
	if calls := h.emu.Calls(identity); calls < 13 {
		t.Fatalf("%d calls; the faults were not all met", calls)
	}
}

func TestNotFoundEndsTheSessionWithAReason(t *testing.T) {
	h := newHarness(t) // no identity registered: the API answers 404
	ev := pbReviewed(workflows.StatusApproved, t0)
	ev.UserID, ev.UserIDSource = "user-1", "additional_attributes.customer_user_id"
	h.at(time.Minute, pbProcessed(t0))
	h.at(time.Minute, ev)
	_, err := h.run("passbase", identity)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !strings.Contains(appErr.Error(), "no such identity") {
		t.Fatalf("workflow error %v, want a failure that says the identity is unknown", err)
	}
	u := h.user("user-1")
	if u.Status != "error" || !strings.Contains(u.Reason, "404") || !strings.Contains(u.Reason, "PASSBASE_BASE_URL") {
		t.Fatalf("user %q with reason %q, want error with a reason that says what to fix", u.Status, u.Reason)
	}
}

func TestScreeningAfterDecisionIsApplied(t *testing.T) {
	h := newHarness(t)
	h.at(time.Minute, vfDecision(workflows.StatusApproved, t0))
	h.at(5*time.Hour, receive(veriff.Name, veriff.ScreeningBody(session, "attempt", "user-2", "updated_result", "possible_match", t0.Add(5*time.Hour))))
	if _, err := h.run("veriff", session); err != nil {
		t.Fatal(err)
	}
	u := h.user("user-2")
	if u.Status != "approved" || u.ScreeningStatus != "possible_match" {
		t.Fatalf("user %+v", u)
	}
}

// A milestone without a provider time (a Veriff event) shows no "at", not
// the year 1.
func TestStateOmitsMissingTimes(t *testing.T) {
	h := newHarness(t)
	h.at(time.Minute, vfStarted())
	h.at(2*time.Minute, vfDecision(workflows.StatusApproved, t0))
	st := h.stateAt(time.Hour)
	if _, err := h.run("veriff", session); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(st.Milestones)
	raw := string(b)
	if strings.Contains(raw, "0001-01-01") || !strings.Contains(raw, `"received_at"`) || strings.Count(raw, `"at"`) != 1 {
		t.Fatalf("milestones %s: want one provider time (the decision's) and no zero time", raw)
	}
}

func TestStateQuery(t *testing.T) {
	h := newHarness(t)
	h.identity("approved", t0)
	h.at(time.Minute, pbProcessed(t0))
	h.at(2*time.Minute, pbReviewed(workflows.StatusApproved, t0))
	st := h.stateAt(time.Hour)
	if _, err := h.run("passbase", identity); err != nil {
		t.Fatal(err)
	}
	if st.UserID != "user-1" || st.Decision != workflows.StatusApproved || !st.Processed || len(st.Milestones) != 2 ||
		st.Status != workflows.StatusApproved || st.NextStep != "absorb late events" || st.NextStepAt == nil {
		t.Fatalf("state %+v", st)
	}
}

// The "decision webhook or poll delay" timer is cancelled when the decision
// arrives, instead of firing an hour later for nothing.
func TestAwaitTimersAreCancelled(t *testing.T) {
	h := newHarness(t)
	pollDelay := map[string]bool{}
	fired := 0
	h.env.SetOnTimerScheduledListener(func(id string, d time.Duration) {
		if d == h.cfg.DecisionPollAfter {
			pollDelay[id] = true
		}
	})
	h.env.SetOnTimerFiredListener(func(id string) {
		if pollDelay[id] {
			fired++
		}
	})
	h.at(time.Minute, vfDecision(workflows.StatusApproved, t0))
	if _, err := h.run("veriff", session); err != nil {
		t.Fatal(err)
	}
	// The run lasts a day (the late-event window): a timer left running
	// would fire on the way.
	if len(pollDelay) != 1 || fired != 0 {
		t.Fatalf("poll-delay timers: %d started, %d fired; want 1 started and none fired", len(pollDelay), fired)
	}
}

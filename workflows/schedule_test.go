package workflows_test

// Generated schedules against a reference model: docs/semantics.md checked
// on schedules nobody wrote by hand.
//
// Each schedule is one user with one to three sessions across both
// providers. A session's provider makes decisions (some the same second,
// some without a time in their webhook, some "in the future", some days
// later); each decision's webhook is delivered any number of times (none:
// lost) in any order, some again days later, when the session's first run
// has closed and a new run starts; processed, progress, screening and
// unknown events come along; the provider's API answers what it has decided
// so far, sometimes after transient faults, sometimes never (404). The real
// workflow runs every run of every session in the time-skipping test
// environment against the real activities, the emulator over HTTP and one
// SQLite store; sessions run one after another in a generated order, so
// the store also sees the changes in orders no clock would produce. The
// user's record, its history and the notifications are then compared with
// model(), a plain function of the schedule written from the document.
//
//	go test ./workflows -run TestGeneratedSchedules -rapid.checks=20000   # as long as wanted
//
// A failing schedule is shrunk and printed (and its seed saved under
// testdata/rapid/ for -rapid.failfile); write it down as a regular test.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/veriff"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"pgregory.net/rapid"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/activities/notify"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/testkit/schedules"
	"github.com/idvflow/idvflow/workflows"
)

// minScheduleChecks is how many schedules every `go test ./...` runs.
const minScheduleChecks = 500

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := os.Getenv("RAPID_CHECKS") != ""
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "rapid.checks" })
	if !explicit {
		flag.Set("rapid.checks", strconv.Itoa(minScheduleChecks))
	}
	os.Exit(m.Run())
}

// ── The world the workflow runs in ──────────────────────────────────────

type world struct {
	acts  *activities.Activities
	rules map[string]workflows.Rules
	emu   *emulator.Emulator
	users *userstore.Store

	mu    sync.Mutex
	sent  []schedules.Notification
	quiet sdklog.Logger
	// handed is what the sessions hand to the users' onboardings; the
	// tests run the real onboarding over it (onboarding_schedule_test.go).
	handed *handLog

	// prepare, when a test sets it, readies each run's environment (run
	// counts from 0) before it starts, for instance with an activity that
	// takes its time while webhooks keep coming. Tests that set it reset
	// it when they end.
	prepare func(env *testsuite.TestWorkflowEnvironment, run int)
}

var (
	worldOnce sync.Once
	theWorld  *world
)

func sharedWorld(t *testing.T) *world {
	worldOnce.Do(func() {
		dir, err := os.MkdirTemp("", "idvflow-schedules-")
		if err != nil {
			t.Fatal(err)
		}
		w := &world{quiet: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
		var env map[string]string
		w.emu, _, env, err = testkit.StartEmulator(context.Background(), emulator.Config{})
		if err != nil {
			t.Fatal(err)
		}
		app := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			var body struct{ Data activities.Notification }
			json.NewDecoder(r.Body).Decode(&body)
			w.mu.Lock()
			w.sent = append(w.sent, schedules.Notification{WebhookID: r.Header.Get("webhook-id"), Data: body.Data})
			w.mu.Unlock()
		}))
		// CI runs the schedules once more with the store on PostgreSQL.
		dbURL := os.Getenv("IDV_SCHEDULES_DATABASE_URL")
		if dbURL == "" {
			dbURL = "sqlite:" + filepath.Join(dir, "users.db")
		}
		w.users, err = userstore.Open(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		hc := httpapi.NewClient(httpapi.Options{Timeout: 5 * time.Second, RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond})
		w.acts = &activities.Activities{
			Users:  w.users,
			Notify: notify.New(app.URL, []byte("notify-secret-notify-secret-0123"), hc),
		}
		w.acts.Providers, w.rules = providerAPIs(t, env, hc)
		w.handed = &handLog{}
		w.acts.Onboarding = w.handed
		theWorld = w
	})
	return theWorld
}

// appGot is every post the app received for user, in order.
func (w *world) appGot(user string) []schedules.Notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []schedules.Notification
	for _, n := range w.sent {
		if n.Data.UserID == user {
			out = append(out, n)
		}
	}
	return out
}

// runSession runs every run of the session, with the operators' actions
// drawn for it (session_ops_schedule_test.go).
func (w *world) runSession(t fataler, s schedules.Session, user string, ops ...sessionOp) {
	h := &hooks{slow: s.SlowWrite, slowUntil: s.Start().Add(schedules.Skipping.ClusterSpan()), raceAt: s.RaceAt,
		race: func(at time.Time) []schedules.Delivery { return s.RaceDeliveries(user, at) }, ops: ops}
	w.runWith(t, schedules.Skipping.Config, s.Provider, s.ID, s.Deliveries(user), func(at time.Time) { s.ProviderState(w.emu, user, at) },
		s.Fault == "notfound", h)
}

// hooks stage, once in a session, what only the activities' timing
// can: the first decision write lasting until slowUntil while the webhooks
// due by then arrive (slow), and the race decisions arriving while the
// first call to the provider's API runs ("poll") or while the error is
// written ("write"); and, in whichever run is open at their moment, the
// operators' actions (ops).
type hooks struct {
	slow      bool
	slowUntil time.Time
	raceAt    string
	race      func(at time.Time) []schedules.Delivery
	ops       []sessionOp

	slowDone, raced atomic.Bool // once per session, in whichever run first gets there
}

// fataler is what runAll needs of a *testing.T or a *rapid.T.
type fataler interface {
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// runAll delivers a session's webhooks the way Temporal would: the first
// run starts at the first delivery, a new run at the first delivery after a
// run closed (what SignalWithStart does), and a continuation when a run
// continues as new. setState prepares the provider's API for a run starting
// at the given time. It returns how many runs there were.
func (w *world) runAll(t fataler, cfg workflows.Config, provider, id string, pending []schedules.Delivery, setState func(time.Time), mayFail bool) int {
	return w.runWith(t, cfg, provider, id, pending, setState, mayFail, nil)
}

// runWith is runAll with hooks (nil: none).
func (w *world) runWith(t fataler, cfg workflows.Config, provider, id string, pending []schedules.Delivery, setState func(time.Time), mayFail bool, h *hooks) int {
	var carried *workflows.Carried
	var start time.Time
	var reopened bool // the next run's Input.Reopened
	var reset bool    // the next run is a reset's: its base run's input
	var drawn []sessionOp
	if h != nil {
		drawn = h.ops
	}
	ops := newOpsTimeline(drawn)
	// The hooks are the first run's, or those of each run an operator
	// ended and of the one after (a retry hands on what it held), until
	// one ends on its own.
	hooked := h != nil && (h.slow || h.raceAt != "")
	// A run takes at least one delivery or continues as new: a late
	// webhook after a decided session is a run of its own (it asks the
	// store and closes), so a session may have a run per delivery.
	maxRuns := 100 + len(pending) + 4*len(ops.cuts())
	runs := 0
	for ; len(pending) > 0 || carried != nil || ops.retrying(); runs++ {
		if runs > maxRuns {
			t.Fatalf("session %s: more than %d runs", id, maxRuns)
		}
		if carried == nil {
			// A retry due before the next webhook hands the unfinished
			// runs' events to the session first (with none, it does
			// nothing): the first of them starts the run.
			for at, ok := ops.retryDue(pending); ok; at, ok = ops.retryDue(pending) {
				ops.skipCutsBefore(at)
				pending = ops.redeliver(t, pending, 0)
			}
			if len(pending) == 0 {
				break
			}
			start = pending[0].At
			if !reset {
				reopened = runs > 0 // the receiver saw a closed run of the session
			}
		}
		reset = false
		ops.skipCutsBefore(start)
		setState(start)
		var suite testsuite.WorkflowTestSuite
		suite.SetLogger(w.quiet)
		env := suite.NewTestWorkflowEnvironment()
		env.SetStartTime(start)
		env.RegisterActivity(w.acts)
		// What a worker's operator.Operator reads of the earlier runs'
		// histories (workflows.EarlierRunsActivity).
		var run *runLog
		env.RegisterActivityWithOptions(func(context.Context) (workflows.Earlier, error) { return ops.earlier(t, run), nil },
			activity.RegisterOptions{Name: workflows.EarlierRunsActivity})
		if w.prepare != nil {
			w.prepare(env, runs)
		}
		cfg.Rules = w.rules
		v := &workflows.Verification{Config: cfg}
		env.RegisterWorkflowWithOptions(v.VerificationWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
		in := workflows.Input{Provider: provider, SessionID: id, Carried: carried, Reopened: reopened}
		run = ops.begin(in)
		// One callback at a time, each scheduling the next: the test
		// environment's timers are not made for tens of thousands at once.
		// The hooks run beside the callbacks (in the activities): mu keeps
		// next theirs in turn.
		var mu sync.Mutex
		next := 0
		take := func(until time.Time) []schedules.Delivery {
			mu.Lock()
			defer mu.Unlock()
			from := next
			for next < len(pending) && !pending[next].At.After(until) {
				next++
			}
			return pending[from:next]
		}
		signal := func(ev workflows.Event) {
			run.received(ev, env.Now())
			env.SignalWorkflow(workflows.SignalEvent, ev)
		}
		var cut *sessionOp
		var deliver func()
		deliver = func() {
			now := env.Now()
			if c := ops.cutDue(now); c != nil {
				// The operator (or Temporal's Web UI) ends the run here;
				// what is due at this instant goes to the run after it.
				cut = c
				env.CancelWorkflow()
				return
			}
			mu.Lock()
			for at, ok := ops.retryDue(pending[next:]); ok && !at.After(now); at, ok = ops.retryDue(pending[next:]) {
				pending = ops.redeliver(t, pending, next)
			}
			mu.Unlock()
			for _, d := range take(now) {
				signal(d.Ev)
			}
			mu.Lock()
			defer mu.Unlock()
			if at, ok := ops.nextAt(pending[next:]); ok {
				env.RegisterDelayedCallback(deliver, at.Sub(now))
			}
		}
		if hooked {
			w.hook(env, h, take, signal)
		}
		if at, ok := ops.nextAt(pending); ok {
			env.RegisterDelayedCallback(deliver, at.Sub(start))
		}
		env.ExecuteWorkflow(workflows.WorkflowName, in)
		if !env.IsWorkflowCompleted() {
			t.Fatalf("session %s: run did not complete", id)
		}
		carried = nil
		mu.Lock()
		pending = pending[next:]
		mu.Unlock()
		var can *workflow.ContinueAsNewError
		err := env.GetWorkflowError()
		hooked = hooked && cut != nil
		switch {
		case cut != nil:
			run.end(cut.status())
			if cut.kind == opReset {
				// Temporal's reset: a new run from this run's input, with
				// every signal it had, at the moment of the reset.
				carried, reopened, start, reset = in.Carried, in.Reopened, env.Now(), true
				pending = append(run.again(env.Now()), pending...)
			}
		case errors.As(err, &can):
			run.end(enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW)
			var in workflows.Input
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				t.Fatal(err)
			}
			carried, reopened, start = in.Carried, in.Reopened, env.Now()
		case err != nil:
			run.end(enumspb.WORKFLOW_EXECUTION_STATUS_FAILED)
			if !mayFail {
				t.Fatalf("session %s failed: %v", id, err)
			}
		default:
			run.end(enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
		}
	}
	return runs
}

// writeFunc is the session's store write.
type writeFunc func(context.Context, activities.UserUpdate) (activities.UpdateResult, error)

// onWrite replaces the session's store write in env (ApplyAndHandOver)
// with f, which calls write for the real one.
func (w *world) onWrite(env *testsuite.TestWorkflowEnvironment, f func(context.Context, activities.UserUpdate, writeFunc) (activities.UpdateResult, error)) {
	env.OnActivity(w.acts.ApplyAndHandOver, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, u activities.UserUpdate) (activities.UpdateResult, error) {
			return f(ctx, u, w.acts.ApplyAndHandOver)
		})
}

// hook stages h in env's run; take hands over the pending deliveries due by
// a time.
func (w *world) hook(env *testsuite.TestWorkflowEnvironment, h *hooks, take func(time.Time) []schedules.Delivery, signal func(workflows.Event)) {
	race := func(at string) {
		if h.raceAt == at && !h.raced.Swap(true) {
			for _, d := range h.race(env.Now()) {
				signal(d.Ev)
			}
		}
	}
	w.onWrite(env, func(ctx context.Context, u activities.UserUpdate, write writeFunc) (activities.UpdateResult, error) {
		if h.slow && u.Kind == "decision" && !u.SessionEnd && !h.slowDone.Swap(true) {
			for _, d := range take(h.slowUntil) { // they arrive while the write lasts
				signal(d.Ev)
			}
		}
		if u.Status == string(workflows.StatusError) {
			race("write")
		}
		return write(ctx, u)
	})
	env.OnActivity(w.acts.PollDecision, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, ref activities.SessionRef) (activities.PollResult, error) {
			race("poll")
			return w.acts.PollDecision(ctx, ref)
		})
	env.OnActivity(w.acts.FetchDetails, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, ref activities.SessionRef) (activities.Details, error) {
			race("poll")
			return w.acts.FetchDetails(ctx, ref)
		})
}

// ── The property ────────────────────────────────────────────────────────

// TestGeneratedSchedules checks R1-R8 on generated schedules: the user's
// record is the model's, its history only ever moves forward through
// decisions the sessions made, and the app heard of the decision the record
// holds.
func TestGeneratedSchedules(t *testing.T) {
	w := sharedWorld(t)
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		sc := schedules.Gen(rt, n, schedules.Skipping)
		for _, i := range sc.RunOrder {
			w.runSession(rt, sc.Sessions[i], sc.User, drawSessionOps(rt, sc.Sessions[i])...)
		}
		var review []string
		onb := w.runOnboarding(rt, sc.User, func(n int) onboardingDraws {
			d := drawOnboarding(rt, n)
			review = d.review
			return d
		})
		sent := w.appGot(sc.User)
		checkOnboarding(rt, onb, sent, review)
		want := schedules.Model(sc)
		if rec := want.Record(); rec != nil && slices.Contains(review, rec.Status) && onb.outcomes[onb.changeOf(rec.Session, rec.Status)] != onboarding.ReviewPassed {
			want = want.Unnotified() // the review held the record's change back
		}
		schedules.Check(rt, w.users, sent, sc, want, true)
	})
}

// TestScheduleScreeningBodies (R6, R7): two screenings of one session that
// differ only in whether their body carries a time are two events, not a
// repeat. Gen once gave them one identity, so the run kept only the first
// and the record's screening fell back to another session's older one
// (found at -rapid.checks=5000, seed 8232346519000678805).
func TestScheduleScreeningBodies(t *testing.T) {
	w := sharedWorld(t)
	approved := []schedules.Decision{{Status: "approved", Early: []time.Duration{0}}}
	sc := schedules.Skipping.Written("user-screening-bodies",
		schedules.Session{Provider: veriff.Name, ID: "0000aaaa-0000-4000-8000-000000000001", At: 3 * time.Minute,
			Decisions: approved,
			Screenings: []schedules.Screening{
				{Status: "no_match", Offset: time.Second, Early: []time.Duration{time.Second}},
				{Status: "no_match", Offset: time.Second, NoTime: true, Early: []time.Duration{23 * time.Second, 600 * time.Second}},
			}},
		schedules.Session{Provider: veriff.Name, ID: "0000aaaa-0000-4000-8000-000000000002", At: 3 * time.Minute,
			Decisions: approved,
			Screenings: []schedules.Screening{
				{Status: "possible_match", Offset: 4 * time.Second, NoTime: true, Early: []time.Duration{15 * time.Second}},
				{Status: "possible_match", Offset: 405 * time.Second, NoTime: true, Early: []time.Duration{5 * time.Second, 578 * time.Second}},
			}},
	)
	for _, i := range sc.RunOrder {
		w.runSession(t, sc.Sessions[i], sc.User)
	}
	want := schedules.Model(sc)
	if got := want.Screening(); got != "no_match" {
		t.Fatalf("model: screening %q, the untimed no_match (arrived 09:03:23) is the newest", got)
	}
	schedules.Check(t, w.users, w.notifications(t, sc.User), sc, want, true)
}

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
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"pgregory.net/rapid"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/activities/notify"
	"github.com/idvflow/idvflow/activities/passbase"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/activities/veriff"
	"github.com/idvflow/idvflow/emulator"
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

// The generated sessions' timings: short enough that a session's first run
// has certainly closed before its late cluster (lateCluster) arrives.
var scheduleConfig = workflows.Config{
	ProcessedGrace:    5 * time.Minute,
	DecisionPollAfter: time.Hour,
	PollInterval:      10 * time.Minute,
	PollMaxInterval:   time.Hour,
	SessionExpiry:     24 * time.Hour,
	LateEventWindow:   2 * time.Hour,
	ActivityTimeout:   time.Minute,
}

const (
	clusterSpan = 10 * time.Minute // every cluster of deliveries arrives within it
	lateMade    = 48 * time.Hour   // late decisions are made then, after the first run closed
	lateCluster = 72 * time.Hour   // late deliveries arrive then, and open a new run
)

// scheduleBase is when generated users start.
var scheduleBase = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

type genDecision struct {
	Status     string
	Offset     time.Duration // the provider time, from the session's start (or lateMade)
	NoTime     bool          // its webhook carries no provider time (the API always does)
	ReasonCode string
	Late       bool            // made between the first run and the late cluster
	Early      []time.Duration // arrivals in the first cluster
	Again      []time.Duration // arrivals in the late cluster
}

type genScreening struct {
	Status string
	Offset time.Duration
	NoTime bool
	Early  []time.Duration
	Again  []time.Duration
}

type genSession struct {
	Provider   string
	ID         string
	Start      time.Duration // from scheduleBase
	Decisions  []genDecision // in the order the provider made them
	Processed  []time.Duration
	Screenings []genScreening
	Others     []time.Duration
	LateNudge  bool   // a progress event in the late cluster: a late run with nothing to decide
	Fault      string // "", "transient", "notfound"
}

type schedule struct {
	User     string
	Sessions []genSession
	RunOrder []int // the order sessions run in the test environment
}

func (s genSession) start() time.Time { return scheduleBase.Add(s.Start) }

func (d genDecision) providerTime(s genSession) time.Time {
	t := s.start().Add(d.Offset)
	if d.Late {
		t = t.Add(lateMade)
	}
	if s.Provider == workflows.ProviderPassbase {
		t = t.Truncate(time.Second) // Passbase times are whole seconds
	}
	return t
}

var (
	veriffStatuses   = []string{"approved", "declined", "resubmission_requested", "review", "expired", "abandoned"}
	passbaseStatuses = []string{"approved", "declined", "pending"}
)

func arrivals(t *rapid.T, label string, max int) []time.Duration {
	n := rapid.IntRange(0, max).Draw(t, label+" count")
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(rapid.IntRange(0, int(clusterSpan/time.Second)).Draw(t, label)) * time.Second
	}
	return out
}

func genSchedule(t *rapid.T, n int) schedule {
	sc := schedule{User: fmt.Sprintf("user-%d", n)}
	sessions := rapid.IntRange(1, 3).Draw(t, "sessions")
	for i := range sessions {
		s := genSession{
			Provider: rapid.SampledFrom([]string{workflows.ProviderVeriff, workflows.ProviderPassbase}).Draw(t, "provider"),
			ID:       fmt.Sprintf("%08x-0000-4000-8000-%012x", n, i),
			Start:    time.Duration(rapid.IntRange(0, 30).Draw(t, "session start minute")) * time.Minute,
			Fault:    rapid.SampledFrom([]string{"", "", "", "transient", "notfound"}).Draw(t, "fault"),
		}
		statuses := veriffStatuses
		if s.Provider == workflows.ProviderPassbase {
			statuses = passbaseStatuses
		}
		var offset time.Duration
		for range rapid.IntRange(0, 3).Draw(t, "decisions") {
			// Nondecreasing provider times, often equal, sometimes "in
			// the future" of their arrival (up to an hour).
			offset += rapid.SampledFrom([]time.Duration{0, 0, time.Second, 2 * time.Second, time.Minute, 30 * time.Minute, time.Hour}).Draw(t, "time step")
			d := genDecision{
				Status: rapid.SampledFrom(statuses).Draw(t, "status"),
				Offset: offset,
				Late:   rapid.IntRange(0, 4).Draw(t, "late") == 0,
				NoTime: rapid.IntRange(0, 4).Draw(t, "no time") == 0,
			}
			// An event without a time arrives in one run only (docs/semantics.md,
			// "Known limits"): not redelivered late, not made late.
			d.NoTime = d.NoTime && !d.Late
			if s.Provider == workflows.ProviderVeriff {
				d.ReasonCode = rapid.SampledFrom([]string{"", "", "102", "105"}).Draw(t, "reason code")
			}
			if !d.Late {
				d.Early = arrivals(t, "decision arrival", 3)
			}
			if !d.NoTime {
				d.Again = arrivals(t, "decision late arrival", 1)
			}
			if d.Late {
				offset = 0 // late decisions' offsets count from lateMade
			}
			s.Decisions = append(s.Decisions, d)
		}
		if len(s.Decisions) > 0 && s.Decisions[len(s.Decisions)-1].Late {
			// Keep made-order times nondecreasing: late decisions come last.
			slices.SortStableFunc(s.Decisions, func(a, b genDecision) int {
				switch {
				case a.Late == b.Late:
					return 0
				case a.Late:
					return 1
				}
				return -1
			})
		}
		s.Processed = arrivals(t, "processed arrival", 2)
		if s.Provider == workflows.ProviderVeriff {
			for range rapid.IntRange(0, 2).Draw(t, "screenings") {
				sg := genScreening{
					Status: rapid.SampledFrom([]string{"no_match", "possible_match"}).Draw(t, "screening status"),
					Offset: time.Duration(rapid.IntRange(0, 600).Draw(t, "screening second")) * time.Second,
					NoTime: rapid.IntRange(0, 4).Draw(t, "screening no time") == 0,
					Early:  arrivals(t, "screening arrival", 2),
				}
				if !sg.NoTime {
					sg.Again = arrivals(t, "screening late arrival", 1)
				}
				s.Screenings = append(s.Screenings, sg)
			}
		}
		s.Others = arrivals(t, "other arrival", 1)
		s.LateNudge = rapid.IntRange(0, 5).Draw(t, "late nudge") == 0
		sc.Sessions = append(sc.Sessions, s)
	}
	sc.RunOrder = rapid.Permutation(seq(sessions)).Draw(t, "run order")
	return sc
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// ── What the receiver would signal ──────────────────────────────────────

type delivery struct {
	at time.Time
	ev workflows.Event
}

func (s genSession) userSource() string {
	if s.Provider == workflows.ProviderVeriff {
		return "vendorData"
	}
	return "additional_attributes.customer_user_id"
}

func (s genSession) event(user, id, typ string, kind workflows.Kind) workflows.Event {
	return workflows.Event{ID: id, Provider: s.Provider, SessionID: s.ID, Type: typ, Kind: kind,
		UserID: user, UserIDSource: s.userSource()}
}

func (s genSession) decisionEvent(user string, i int, d genDecision) workflows.Event {
	var pt time.Time
	if !d.NoTime {
		pt = d.providerTime(s)
	}
	var ev workflows.Event
	if s.Provider == workflows.ProviderVeriff {
		ev = s.event(user, "decision/attempt-"+strconv.Itoa(i)+"/"+d.Status+"/"+pt.Format(time.RFC3339Nano), "decision", workflows.KindDecision)
		ev.AttemptID = "attempt-" + strconv.Itoa(i)
	} else {
		ev = s.event(user, "VERIFICATION_REVIEWED/"+s.ID+"/"+strconv.FormatInt(pt.Unix(), 10)+"/"+d.Status, "VERIFICATION_REVIEWED", workflows.KindDecision)
	}
	ev.Decision, ev.ProviderStatus, ev.ReasonCode, ev.OccurredAt = workflows.Status(d.Status), d.Status, d.ReasonCode, pt
	return ev
}

func (s genSession) screeningEvent(user string, sg genScreening) workflows.Event {
	var pt time.Time
	if !sg.NoTime {
		pt = s.start().Add(sg.Offset)
	}
	ev := s.event(user, "screening/"+sg.Status+"/"+strconv.FormatInt(int64(sg.Offset), 10), "watchlist:updated_result", workflows.KindScreening)
	ev.ProviderStatus, ev.OccurredAt = sg.Status, pt
	return ev
}

// deliveries lists every webhook of the session in arrival order, each with
// the receipt time the receiver stamps.
func (s genSession) deliveries(user string) []delivery {
	var out []delivery
	add := func(cluster time.Duration, offsets []time.Duration, ev workflows.Event) {
		for _, o := range offsets {
			e := ev
			e.ReceivedAt = s.start().Add(cluster + o)
			if e.Validate() != nil {
				continue // the receiver answers 400: dated in the future (R5)
			}
			out = append(out, delivery{at: e.ReceivedAt, ev: e})
		}
	}
	progress := s.event(user, "event/start/7001", "event:started", workflows.KindProgress)
	add(0, []time.Duration{0}, progress) // every session begins with one
	if s.LateNudge {
		add(lateCluster, []time.Duration{0}, progress)
	}
	for i, d := range s.Decisions {
		ev := s.decisionEvent(user, i, d)
		add(0, d.Early, ev)
		add(lateCluster, d.Again, ev)
	}
	for _, o := range s.Processed {
		add(0, []time.Duration{o}, s.event(user, "processed", "event:submitted", workflows.KindProcessed))
	}
	for _, sg := range s.Screenings {
		ev := s.screeningEvent(user, sg)
		add(0, sg.Early, ev)
		add(lateCluster, sg.Again, ev)
	}
	for i, o := range s.Others {
		add(0, []time.Duration{o}, s.event(user, "other/"+strconv.Itoa(i), "other", workflows.KindOther))
	}
	slices.SortStableFunc(out, func(a, b delivery) int { return a.at.Compare(b.at) })
	return out
}

// ── The world the workflow runs in ──────────────────────────────────────

type world struct {
	acts  *activities.Activities
	emu   *emulator.Emulator
	users *userstore.Store

	mu    sync.Mutex
	sent  []notification
	quiet sdklog.Logger
}

type notification struct {
	WebhookID string
	Data      activities.Notification
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
		w.emu = emulator.New(emulator.Config{PassbaseAPIKey: apiKey, VeriffAPIKey: apiKey, VeriffSecret: secret})
		api := httptest.NewServer(w.emu.Handler())
		app := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			var body struct{ Data activities.Notification }
			json.NewDecoder(r.Body).Decode(&body)
			w.mu.Lock()
			w.sent = append(w.sent, notification{WebhookID: r.Header.Get("webhook-id"), Data: body.Data})
			w.mu.Unlock()
		}))
		w.users, err = userstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "users.db"))
		if err != nil {
			t.Fatal(err)
		}
		hc := httpapi.NewClient(httpapi.Options{Timeout: 5 * time.Second, RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond})
		w.acts = &activities.Activities{
			Passbase: passbase.New(api.URL+"/verification/v2", apiKey, hc),
			Veriff:   veriff.New(api.URL, apiKey, []byte(secret), hc),
			Users:    w.users,
			Notify:   notify.New(app.URL, []byte("notify-secret-notify-secret-0123"), hc),
		}
		theWorld = w
	})
	return theWorld
}

func (w *world) notifications(user string) []notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []notification
	for _, n := range w.sent {
		if n.Data.UserID == user {
			out = append(out, n)
		}
	}
	return out
}

// providerState sets what the emulated API answers for the session from
// `at` on: its latest decision made by then, with its time (the API always
// has one), or none; nothing at all for a session it does not know.
func (w *world) providerState(s genSession, user string, at time.Time) {
	if s.Fault == "notfound" {
		return
	}
	var last *genDecision
	for i := range s.Decisions {
		if !s.Decisions[i].Late || !at.Before(s.start().Add(lateMade)) {
			last = &s.Decisions[i]
		}
	}
	if s.Provider == workflows.ProviderVeriff {
		var v json.RawMessage
		if last != nil {
			b, _ := json.Marshal(map[string]any{"id": s.ID, "status": last.Status, "reasonCode": nullIfEmpty(last.ReasonCode),
				"vendorData": user, "decisionTime": last.providerTime(s), "attemptId": "api"})
			v = b
		}
		w.emu.PutDecision(s.ID, v)
	} else {
		status, updated := "processing", s.start().Unix()
		if last != nil {
			status, updated = last.Status, last.providerTime(s).Unix()
		}
		b, _ := json.Marshal(map[string]any{"id": s.ID, "status": status, "updated": updated,
			"metadata": map[string]any{"customer_user_id": user}})
		w.emu.PutIdentity(s.ID, b)
	}
	if s.Fault == "transient" {
		w.emu.FailNext(s.ID, emulator.Fault{Status: 500}, emulator.Fault{Status: 500})
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// runSession runs every run of the session.
func (w *world) runSession(t *rapid.T, s genSession, user string) {
	w.runAll(t, scheduleConfig, s.Provider, s.ID, s.deliveries(user), func(at time.Time) { w.providerState(s, user, at) },
		s.Fault == "notfound")
}

// runAll delivers a session's webhooks the way Temporal would: the first
// run starts at the first delivery, a new run at the first delivery after a
// run closed (what SignalWithStart does), and a continuation when a run
// continues as new. setState prepares the provider's API for a run starting
// at the given time. It returns how many runs there were.
// fataler is what runAll needs of a *testing.T or a *rapid.T.
type fataler interface {
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func (w *world) runAll(t fataler, cfg workflows.Config, provider, id string, pending []delivery, setState func(time.Time), mayFail bool) int {
	var carried *workflows.Carried
	var start time.Time
	runs := 0
	for ; len(pending) > 0 || carried != nil; runs++ {
		if runs > 100 {
			t.Fatalf("session %s: more than 100 runs", id)
		}
		if carried == nil {
			start = pending[0].at
		}
		setState(start)
		var suite testsuite.WorkflowTestSuite
		suite.SetLogger(w.quiet)
		env := suite.NewTestWorkflowEnvironment()
		env.SetStartTime(start)
		env.RegisterActivity(w.acts)
		v := &workflows.Verification{Config: cfg}
		env.RegisterWorkflowWithOptions(v.VerificationWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
		// One callback at a time, each scheduling the next: the test
		// environment's timers are not made for tens of thousands at once.
		next := 0
		var deliver func()
		deliver = func() {
			for now := pending[next].at; next < len(pending) && !pending[next].at.After(now); next++ {
				env.SignalWorkflow(workflows.SignalEvent, pending[next].ev)
			}
			if next < len(pending) {
				env.RegisterDelayedCallback(deliver, pending[next].at.Sub(env.Now()))
			}
		}
		if len(pending) > 0 {
			env.RegisterDelayedCallback(deliver, pending[0].at.Sub(start))
		}
		env.ExecuteWorkflow(workflows.WorkflowName, workflows.Input{Provider: provider, SessionID: id, Carried: carried})
		if !env.IsWorkflowCompleted() {
			t.Fatalf("session %s: run did not complete", id)
		}
		carried = nil
		var can *workflow.ContinueAsNewError
		if err := env.GetWorkflowError(); errors.As(err, &can) {
			var in workflows.Input
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				t.Fatal(err)
			}
			carried, start = in.Carried, env.Now()
		} else if err != nil && !mayFail {
			t.Fatalf("session %s failed: %v", id, err)
		}
		pending = pending[next:]
	}
	return runs
}

// ── The reference model: docs/semantics.md, and nothing else ───────────

// mDecision is what the user's record shows of a decision.
type mDecision struct {
	At                                 time.Time
	Rank                               int
	Status, Provider, Session, Code    string
	Reason, Source                     string
	sessionEnd, looseReason, hasReason bool
}

// after is R2/R3's order: later order time, then higher rank, then the
// text fields in turn.
func (a mDecision) after(b mDecision) bool {
	if !a.At.Equal(b.At) {
		return a.At.After(b.At)
	}
	if a.Rank != b.Rank {
		return a.Rank > b.Rank
	}
	for _, p := range [][2]string{{a.Status, b.Status}, {a.Provider, b.Provider}, {a.Session, b.Session},
		{a.Code, b.Code}, {a.Reason, b.Reason}, {a.Source, b.Source}} {
		if p[0] != p[1] {
			return p[0] > p[1]
		}
	}
	return false
}

func maxOf(ds ...*mDecision) *mDecision {
	var m *mDecision
	for _, d := range ds {
		if d != nil && (m == nil || d.after(*m)) {
			m = d
		}
	}
	return m
}

// R1: final statuses.
func modelFinal(status string) bool {
	return slices.Contains([]string{"approved", "declined", "expired", "abandoned"}, status)
}

// R5: the order time.
func modelOrderTime(provider, received time.Time) time.Time {
	if provider.IsZero() {
		return received
	}
	return provider
}

// R5: a webhook dated more than five minutes after its arrival is refused.
func modelAccepted(provider, received time.Time) bool {
	return provider.IsZero() || !provider.After(received.Add(5*time.Minute))
}

// accepted is the arrivals of a webhook the receiver takes.
func accepted(offsets []time.Duration, start time.Time, cluster time.Duration, provider time.Time) []time.Duration {
	var out []time.Duration
	for _, o := range offsets {
		if modelAccepted(provider, start.Add(cluster+o)) {
			out = append(out, o)
		}
	}
	return out
}

type modelResult struct {
	record     *mDecision
	candidates []mDecision // every decision a run may write
	screening  string
	notified   bool // the record's decision must have been sent to the app
}

func model(sc schedule) modelResult {
	var res modelResult
	var results []*mDecision
	type screen struct {
		at     time.Time
		status string
	}
	var screenings []screen
	for _, s := range sc.Sessions {
		began := s.start() // R4: the session's first run starts at its first webhook
		rank := func(status string) int {
			if modelFinal(status) {
				return 2
			}
			return 1
		}
		decision := func(d genDecision, pt, received time.Time) *mDecision {
			return &mDecision{At: modelOrderTime(pt, received), Rank: rank(d.Status), Status: d.Status,
				Provider: s.Provider, Session: s.ID, Code: d.ReasonCode, Source: s.userSource()}
		}
		end := func(status string, after *mDecision) *mDecision {
			at := began
			if after != nil && after.At.After(at) {
				at = after.At
			}
			e := &mDecision{At: at, Rank: 3, Status: status, Provider: s.Provider, Session: s.ID,
				Source: s.userSource(), sessionEnd: true}
			if status == "expired" {
				e.Reason = "no final decision before IDV_SESSION_EXPIRY"
			} else {
				e.looseReason = true // the provider API's own words
			}
			return e
		}
		// R8: one run per cluster of deliveries.
		for _, late := range []bool{false, true} {
			cluster := time.Duration(0)
			if late {
				cluster = lateCluster
			}
			var known []*mDecision
			opened := !late || s.LateNudge
			// R7: deliveries with one provider identity are one event,
			// taken in at its first arrival in the run.
			first := map[string]time.Time{}
			var order []string
			byID := map[string]genDecision{}
			for i, d := range s.Decisions {
				when := d.Early
				if late {
					when = d.Again
				}
				ev := s.decisionEvent(sc.User, i, d)
				if when = accepted(when, s.start(), cluster, ev.OccurredAt); len(when) == 0 {
					continue
				}
				opened = true
				at := s.start().Add(cluster + slices.Min(when))
				if f, ok := first[ev.ID]; !ok || at.Before(f) {
					if !ok {
						order = append(order, ev.ID)
					}
					first[ev.ID], byID[ev.ID] = at, d
				}
			}
			for _, id := range order {
				d := byID[id]
				var pt time.Time
				if !d.NoTime {
					pt = d.providerTime(s)
				}
				known = append(known, decision(d, pt, first[id]))
			}
			for _, sg := range s.Screenings {
				when := sg.Early
				if late {
					when = sg.Again
				}
				ev := s.screeningEvent(sc.User, sg)
				if when = accepted(when, s.start(), cluster, ev.OccurredAt); len(when) == 0 {
					continue
				}
				opened = true
				screenings = append(screenings, screen{modelOrderTime(ev.OccurredAt, s.start().Add(cluster+slices.Min(when))), sg.Status})
			}
			if !opened {
				continue
			}
			res.candidates = append(res.candidates, derefs(known)...)
			latest := maxOf(known...)
			var result *mDecision
			switch {
			case s.Provider == workflows.ProviderPassbase && s.Fault == "notfound":
				// Every write waits for the identity, which never comes.
				result = end("error", nil)
			case latest != nil && modelFinal(latest.Status):
				result = latest
			case s.Fault == "notfound":
				result = end("error", latest) // the first poll is refused for good
			default:
				// R8: the run polls; the API answers its latest decision.
				var polled *mDecision
				for _, d := range s.Decisions {
					if !d.Late || late {
						polled = decision(d, d.providerTime(s), time.Time{})
					}
				}
				if polled != nil {
					res.candidates = append(res.candidates, *polled)
				}
				latest = maxOf(latest, polled)
				if latest != nil && modelFinal(latest.Status) {
					result = latest
				} else {
					result = end("expired", latest)
				}
			}
			res.candidates = append(res.candidates, *result)
			results = append(results, result)
		}
	}
	res.record = maxOf(results...)
	res.notified = res.record != nil && (res.record.Rank == 2 || res.record.Status == "expired")
	var top *screen
	for i := range screenings {
		if top == nil || screenings[i].at.After(top.at) || (screenings[i].at.Equal(top.at) && screenings[i].status > top.status) {
			top = &screenings[i]
		}
	}
	if top != nil {
		res.screening = top.status
	}
	return res
}

func derefs(ds []*mDecision) []mDecision {
	out := make([]mDecision, len(ds))
	for i, d := range ds {
		out[i] = *d
	}
	return out
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
		sc := genSchedule(rt, n)
		for _, i := range sc.RunOrder {
			w.runSession(rt, sc.Sessions[i], sc.User)
		}
		checkSchedule(rt, w, sc, model(sc))
	})
}

func checkSchedule(t *rapid.T, w *world, sc schedule, want modelResult) {
	u, err := w.users.Get(context.Background(), sc.User)
	if err != nil {
		t.Fatalf("user %s: %v (model: %+v)", sc.User, err, want.record)
	}
	got := mDecision{At: u.DecidedAt, Status: u.Status, Provider: u.Provider, Session: u.SessionID,
		Code: u.ReasonCode, Reason: u.Reason, Source: u.UserIDSource}
	m := *want.record
	// R2: the record is the greatest decision, field by field.
	if got.At != m.At.UTC() || got.Status != m.Status || got.Provider != m.Provider || got.Session != m.Session ||
		got.Code != m.Code || got.Source != m.Source || (!m.looseReason && got.Reason != m.Reason) || (m.looseReason && got.Reason == "") {
		t.Fatalf("R2: record %+v,\nmodel wants %+v", got, m)
	}
	// R6: the newest screening.
	if u.ScreeningStatus != want.screening {
		for _, h := range u.History {
			t.Logf("history: %+v", h)
		}
		t.Fatalf("R6: screening %q, model wants %q", u.ScreeningStatus, want.screening)
	}
	// R2/R7: the history moves forward only, each row a decision a session
	// made, consecutive rows saying different things, the last the record's.
	var prev *mDecision
	for _, h := range u.History {
		if h.Kind != userstore.KindDecision {
			continue
		}
		row := mDecision{At: h.DecidedAt, Status: h.Status, Provider: h.Provider, Session: h.SessionID, Code: h.ReasonCode}
		if !slices.ContainsFunc(want.candidates, func(c mDecision) bool {
			return c.At.Equal(row.At) && c.Status == row.Status && c.Session == row.Session && c.Code == row.Code
		}) {
			t.Fatalf("R7: history row %+v is no decision of the user's sessions", row)
		}
		if prev != nil {
			if row.At.Before(prev.At) {
				t.Fatalf("R2: history moved backwards: %+v after %+v", row, *prev)
			}
			if row.Status == prev.Status && row.Session == prev.Session && row.Code == prev.Code && row.Provider == prev.Provider {
				t.Fatalf("R7: one decision applied twice: %+v", row)
			}
		}
		prev = &row
	}
	if prev == nil || prev.Status != m.Status || prev.Session != m.Session {
		t.Fatalf("R2: the last history row %+v is not the record's %s/%s", prev, m.Session, m.Status)
	}
	// The app heard of the decision the record holds, under one id.
	ids := map[string]string{}
	heard := false
	for _, n := range w.notifications(sc.User) {
		k := n.Data.SessionID + "|" + n.Data.Status + "|" + n.Data.DecidedAt.UTC().Format(time.RFC3339Nano)
		if id, ok := ids[k]; ok && id != n.WebhookID {
			t.Fatalf("one decision sent under two webhook ids: %s", k)
		}
		ids[k] = n.WebhookID
		heard = heard || (n.Data.SessionID == m.Session && n.Data.Status == m.Status)
	}
	if want.notified && !heard {
		t.Fatalf("the app never heard of %s/%s", m.Session, m.Status)
	}
}

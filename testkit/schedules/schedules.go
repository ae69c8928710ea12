// Package schedules generates verification schedules and says, by a
// reference model written from docs/semantics.md and nothing else, what
// the user's record must be after them. The time-skipping workflow test and
// the end-to-end test against a real server both use it.
//
// A schedule draws its sessions from every registered provider that has a
// generator (sim.Generated); each event becomes that provider's webhook,
// and what the workflow is signalled is what the provider's own parser
// makes of those bytes, as in the receiver. The model reads the provider's
// identities, times, codes and user-id source from the parsed events, so
// it names no provider.
package schedules

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/sethvargo/go-envconfig"
	"pgregory.net/rapid"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/providers/registry"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Timing places a schedule in time.
type Timing struct {
	// Config is the workflow's timings the model assumes.
	Config workflows.Config
	// Base is when generated users start.
	Base time.Time
	// StartUnit is one step of a session's start; ArrivalUnit one step of
	// an arrival within its cluster (a cluster spans 600 of them).
	StartUnit, ArrivalUnit time.Duration
	// LateMade is when late decisions are made, after the first run
	// closed; LateCluster when late deliveries arrive, opening a new run.
	LateMade, LateCluster time.Duration
	// TimeSteps are the steps between a session's provider times.
	TimeSteps []time.Duration
	// NoTime lets webhooks lack a provider time (the receiver would stamp
	// its own clock, which only the time-skipping environment controls).
	NoTime bool
	// Hooks lets sessions draw what only the time-skipping test's hooks
	// can stage: a write to the store that lasts while the cluster's
	// webhooks arrive (Session.SlowWrite), and decisions that arrive while
	// the provider's API refuses the session for good (Decision.Race).
	Hooks bool
	// Replays are further times (from a session's start) its late cluster
	// may arrive at instead of LateCluster: a captured body replayed weeks
	// after the user was decided.
	Replays []time.Duration
}

// Skipping is the timing for the time-skipping test environment: a
// cluster (10 minutes) arrives before the first poll (1h), and a session's
// first run has certainly closed (expiry 24h) before its late cluster
// arrives (72h).
var Skipping = Timing{
	Config: workflows.Config{
		ProcessedGrace:    5 * time.Minute,
		DecisionPollAfter: time.Hour,
		PollInterval:      10 * time.Minute,
		PollMaxInterval:   time.Hour,
		SessionExpiry:     24 * time.Hour,
		LateEventWindow:   2 * time.Hour,
		ActivityTimeout:   time.Minute,
	},
	Base:        time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC),
	StartUnit:   time.Minute,
	ArrivalUnit: time.Second,
	LateMade:    48 * time.Hour,
	LateCluster: 72 * time.Hour,
	TimeSteps:   []time.Duration{0, 0, time.Second, 2 * time.Second, time.Minute, 30 * time.Minute, time.Hour},
	NoTime:      true,
	Hooks:       true,
	Replays:     []time.Duration{60 * 24 * time.Hour},
}

// RealTime is the timing for a real server in real time, from base: whole
// seconds for every provider time and session start (so the receiver's few
// milliseconds never reorder them), clusters within a second and well
// before the first poll (3s: the model takes a cluster's webhooks in before
// any poll), the first run closed (expiry 8s) well before the late cluster
// (16s).
func RealTime(base time.Time) Timing {
	return Timing{
		Config: workflows.Config{
			ProcessedGrace:    300 * time.Millisecond,
			DecisionPollAfter: 3 * time.Second,
			PollInterval:      500 * time.Millisecond,
			PollMaxInterval:   time.Second,
			SessionExpiry:     8 * time.Second,
			LateEventWindow:   time.Second,
			ActivityTimeout:   10 * time.Second,
		},
		Base:        base.Truncate(time.Second),
		StartUnit:   time.Second / 10, // a start is drawn in 0..30: up to 3s, whole seconds below
		ArrivalUnit: time.Second / 600,
		LateMade:    12 * time.Second,
		LateCluster: 16 * time.Second,
		TimeSteps:   []time.Duration{0, 0, time.Second, 2 * time.Second},
	}
}

type Decision struct {
	Status     string
	Offset     time.Duration // the provider time, from the session's start (or LateMade)
	NoTime     bool          // its webhook carries no provider time (the API always does)
	ReasonCode string
	Late       bool            // made between the first run and the late cluster
	Early      []time.Duration // arrivals in the first cluster
	Again      []time.Duration // arrivals in the late cluster
	// Stale: arrivals in the first cluster signed too long ago (a
	// provider whose signature carries a time, Draws.Stamped); the
	// receiver refuses them, so they count for nothing.
	Stale []time.Duration
	// Race: its first delivery arrives while the first run meets the
	// provider's permanent refusal (Session.RaceAt), and not at all if that
	// run never does.
	Race bool
}

type Screening struct {
	Status string
	Offset time.Duration
	NoTime bool
	Early  []time.Duration
	Again  []time.Duration
}

type Session struct {
	Provider   string
	ID         string
	At         time.Duration // from the timing's base
	Decisions  []Decision    // in the order the provider made them
	Processed  []time.Duration
	Screenings []Screening
	Others     []time.Duration
	LateNudge  bool          // a progress event in the late cluster: a late run with nothing to decide
	LateAt     time.Duration // when the late cluster arrives, from the start; 0: Timing.LateCluster
	Fault      string        // "", "transient", "notfound"
	// Lesser: the session's progress and processed webhooks name the user
	// only in the provider's lesser field; its decisions in the best.
	Lesser bool
	// SlowWrite: the first run's first decision write lasts while the rest
	// of the first cluster arrives.
	SlowWrite bool
	// RaceAt is when race decisions arrive: "poll" while the first call
	// to the provider's API runs, "write" while the error is written.
	RaceAt string
	tm     Timing
}

// lateCluster is when the session's late cluster arrives, from its start.
func (s Session) lateCluster() time.Duration {
	if s.LateAt > 0 {
		return s.LateAt
	}
	return s.tm.LateCluster
}

// ClusterStarts are when the session's two clusters of deliveries begin:
// its start and its late cluster's. The model's timing holds for a run
// that starts within a cluster (Timing): an operator's action drawn on a
// session (workflows/session_ops_schedule_test.go) comes within one.
func (s Session) ClusterStarts() []time.Time {
	return []time.Time{s.Start(), s.Start().Add(s.lateCluster())}
}

// ClusterSpan is how long after its start a cluster's deliveries may
// arrive.
func (tm Timing) ClusterSpan() time.Duration { return 600 * tm.ArrivalUnit }

type Schedule struct {
	User     string
	Sessions []Session
	RunOrder []int // the order sessions run in the test environment
	tm       Timing
}

// Start is when the session's first webhook arrives.
func (s Session) Start() time.Time { return s.tm.Base.Add(s.At) }

// providerTime is when the provider made the decision (its webhook and its
// API carry it at the provider's own precision).
func (d Decision) providerTime(s Session) time.Time {
	t := s.Start().Add(d.Offset)
	if d.Late {
		t = t.Add(s.tm.LateMade)
	}
	return t
}

// ── The providers ───────────────────────────────────────────────────────

// provider is what schedules use of a registered provider: its generator
// (nil without one), its webhooks as the receiver authenticates and parses
// them (with the dev credentials), and its rules.
type provider struct {
	name     string
	gen      sim.Generator
	cfg      providers.Config
	webhooks webhook.Provider
	rules    workflows.Rules
}

// registered is every registered provider, in the registry's order; read
// once, never changed.
var registered = sync.OnceValue(func() []provider {
	cs, err := registry.Dev(context.Background(), envconfig.MapLookuper(nil), "http://emulator.invalid")
	if err != nil {
		panic(fmt.Sprintf("schedules: the dev configuration: %v", err))
	}
	var out []provider
	for _, p := range registry.All() {
		cfg := cs.Get(p.Name())
		wh, err := cfg.Webhooks()
		if err != nil || wh == nil {
			panic(fmt.Sprintf("schedules: %s webhooks with dev credentials: %v", p.Name(), err))
		}
		pr := provider{name: p.Name(), cfg: cfg, webhooks: wh, rules: cfg.Rules()}
		if g, ok := p.(sim.Generated); ok {
			pr.gen = g.Generator()
		}
		out = append(out, pr)
	}
	return out
})

// Providers names the providers schedules draw sessions from: those with a
// generator.
func Providers() []string {
	var out []string
	for _, p := range registered() {
		if p.gen != nil {
			out = append(out, p.name)
		}
	}
	return out
}

func lookup(name string) provider {
	for _, p := range registered() {
		if p.name == name && p.gen != nil {
			return p
		}
	}
	panic(fmt.Sprintf("schedules: provider %q has no generator (want one of %v)", name, Providers()))
}

// Receive is what the receiver signals for a webhook body the provider's
// package built (before Seal): the workflow tests signal nothing else. ok
// is false for a webhook the receiver acknowledges without a signal.
func Receive(providerName string, body []byte) (ev workflows.Event, ok bool) {
	for _, p := range registered() {
		if p.name == providerName {
			return p.receive(body)
		}
	}
	panic(fmt.Sprintf("schedules: no provider %q", providerName))
}

// receive is what the receiver signals for body: sealed as the provider
// sends it, authenticated, parsed, and tagged with its integration. ok is
// false for a webhook the receiver acknowledges without a signal. A body
// the receiver would refuse is a bug in the provider's generator.
func (p provider) receive(body []byte) (workflows.Event, bool) {
	header, sealed, err := p.cfg.Seal(body)
	if err != nil {
		panic(fmt.Sprintf("schedules: seal a %s webhook: %v", p.name, err))
	}
	plain, integration, err := webhook.Authenticate(p.webhooks, header, sealed)
	if err != nil {
		panic(fmt.Sprintf("schedules: authenticate a %s webhook: %v", p.name, err))
	}
	ev, err := p.webhooks.Parse(plain)
	if errors.Is(err, webhook.ErrIgnored) {
		return ev, false
	}
	if err != nil {
		panic(fmt.Sprintf("schedules: parse a generated %s webhook: %v\n%s", p.name, err, plain))
	}
	ev.Integration = integration
	return ev, true
}

func arrivals(t *rapid.T, tm Timing, label string, max int) []time.Duration {
	n := rapid.IntRange(0, max).Draw(t, label+" count")
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(rapid.IntRange(0, 600).Draw(t, label)) * tm.ArrivalUnit
	}
	return out
}

// Written is a schedule written by hand (a regression found by Gen): the
// sessions run in the order given.
func (tm Timing) Written(user string, sessions ...Session) Schedule {
	sc := Schedule{User: user, tm: tm}
	for i, s := range sessions {
		s.tm = tm
		sc.Sessions = append(sc.Sessions, s)
		sc.RunOrder = append(sc.RunOrder, i)
	}
	return sc
}

func Gen(t *rapid.T, n int, tm Timing) Schedule {
	sc := Schedule{User: fmt.Sprintf("user-%d", n), tm: tm}
	sessions := rapid.IntRange(1, 3).Draw(t, "sessions")
	for i := range sessions {
		s := Session{
			Provider: rapid.SampledFrom(Providers()).Draw(t, "provider"),
			ID:       fmt.Sprintf("%08x-0000-4000-8000-%012x", n, i),
			At:       (time.Duration(rapid.IntRange(0, 30).Draw(t, "session start step")) * tm.StartUnit).Truncate(time.Second),
			tm:       tm,
			Fault:    rapid.SampledFrom([]string{"", "", "", "transient", "notfound"}).Draw(t, "fault"),
		}
		draws := lookup(s.Provider).gen.Draws()
		s.Lesser = draws.Lesser && rapid.IntRange(0, 3).Draw(t, "lesser user field first") == 0
		if tm.Hooks {
			s.SlowWrite = rapid.IntRange(0, 4).Draw(t, "slow write") == 0
			if s.Fault == "notfound" {
				s.RaceAt = rapid.SampledFrom([]string{"poll", "write"}).Draw(t, "race at")
			}
		}
		var offset time.Duration
		for range rapid.IntRange(0, 3).Draw(t, "decisions") {
			// Nondecreasing provider times, often equal, sometimes "in
			// the future" of their arrival (up to an hour).
			offset += rapid.SampledFrom(tm.TimeSteps).Draw(t, "time step")
			d := Decision{
				Status: rapid.SampledFrom(draws.Statuses).Draw(t, "status"),
				Offset: offset,
				Late:   rapid.IntRange(0, 4).Draw(t, "late") == 0,
				NoTime: rapid.IntRange(0, 4).Draw(t, "no time") == 0,
			}
			// An event without a time is ordered by its first receipt, in
			// whatever run it comes again (R5, R7).
			d.NoTime = d.NoTime && tm.NoTime && draws.Untimed
			if len(draws.ReasonCodes) > 0 {
				d.ReasonCode = rapid.SampledFrom(draws.ReasonCodes).Draw(t, "reason code")
			}
			// A race decision is timed and dated before the first poll, so
			// the receiver takes it whenever the race happens (R5).
			d.Race = s.RaceAt != "" && !d.Late && !d.NoTime && d.Offset <= 55*time.Minute &&
				rapid.IntRange(0, 2).Draw(t, "race") == 0
			if !d.Late && !d.Race {
				d.Early = arrivals(t, tm, "decision arrival", 3)
			}
			if draws.Stamped {
				d.Stale = arrivals(t, tm, "stale decision arrival", 2)
			}
			d.Again = arrivals(t, tm, "decision late arrival", 1)
			if d.Late {
				offset = 0 // late decisions' offsets count from LateMade
			}
			s.Decisions = append(s.Decisions, d)
		}
		if len(s.Decisions) > 0 && s.Decisions[len(s.Decisions)-1].Late {
			// Keep made-order times nondecreasing: late decisions come last.
			slices.SortStableFunc(s.Decisions, func(a, b Decision) int {
				switch {
				case a.Late == b.Late:
					return 0
				case a.Late:
					return 1
				}
				return -1
			})
		}
		s.Processed = arrivals(t, tm, "processed arrival", 2)
		if len(draws.Screenings) > 0 {
			for range rapid.IntRange(0, 2).Draw(t, "screenings") {
				sg := Screening{
					Status: rapid.SampledFrom(draws.Screenings).Draw(t, "screening status"),
					// Often at one time, so equal-time ties are common (R6).
					Offset: (time.Duration(rapid.SampledFrom([]int{0, 0, rapid.IntRange(0, 600).Draw(t, "screening step")}).Draw(t, "screening time")) * tm.ArrivalUnit).Truncate(time.Second),
					NoTime: rapid.IntRange(0, 4).Draw(t, "screening no time") == 0 && tm.NoTime && draws.Untimed,
					Early:  arrivals(t, tm, "screening arrival", 2),
				}
				sg.Again = arrivals(t, tm, "screening late arrival", 1)
				s.Screenings = append(s.Screenings, sg)
			}
		}
		s.Others = arrivals(t, tm, "other arrival", 1)
		s.LateNudge = rapid.IntRange(0, 5).Draw(t, "late nudge") == 0
		if len(tm.Replays) > 0 && rapid.IntRange(0, 3).Draw(t, "replayed weeks later") == 0 {
			s.LateAt = rapid.SampledFrom(tm.Replays).Draw(t, "replay at")
		}
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

// Stale is body sealed by the provider as if sent an hour ago, as a
// delivery held up or replayed comes; the provider's own webhooks must
// refuse it as stale (webhook.ErrStale), as the receiver does.
func Stale(providerName string, body []byte) (http.Header, []byte) {
	p := lookup(providerName)
	stamped, ok := p.cfg.(sim.Stamped)
	if !ok {
		panic(fmt.Sprintf("schedules: %s draws stale deliveries but its configuration is not sim.Stamped", p.name))
	}
	header, sealed, err := stamped.SealAt(body, time.Now().Add(-time.Hour))
	if err != nil {
		panic(fmt.Sprintf("schedules: seal a stale %s webhook: %v", p.name, err))
	}
	if _, _, err := webhook.Authenticate(p.webhooks, header, sealed); !errors.Is(err, webhook.ErrStale) {
		panic(fmt.Sprintf("schedules: %s took a webhook signed an hour ago: %v", p.name, err))
	}
	return header, sealed
}

// StaleDeliveries are the session's deliveries signed too long ago, in
// arrival order: the receiver answers each 401 and signals nothing, so
// the model counts them for nothing (a decision that only ever came
// stale is one the provider's API must give).
func (s Session) StaleDeliveries(user string) []Delivery {
	var out []Delivery
	for i, d := range s.Decisions {
		w := s.decision(user, i, d, false)
		for _, o := range d.Stale {
			out = append(out, Delivery{At: s.Start().Add(o), Ev: w.ev, Body: w.body})
		}
	}
	slices.SortStableFunc(out, func(a, b Delivery) int { return a.At.Compare(b.At) })
	return out
}

// ── What the receiver would signal ──────────────────────────────────────

// Delivery is one webhook: its body as the provider sends it (before
// Seal), and the event the receiver signals for it at At.
type Delivery struct {
	At   time.Time
	Ev   workflows.Event
	Body []byte
}

// webhookOf is a made-up event's webhook body and what the receiver makes
// of it (ok false: acknowledged, nothing signalled).
type webhookOf struct {
	body []byte
	ev   workflows.Event
	ok   bool
}

func (s Session) event(user string, kind workflows.Kind, n int) sim.Event {
	lesser := s.Lesser && (kind == workflows.KindProgress || kind == workflows.KindProcessed)
	return sim.Event{Kind: kind, SessionID: s.ID, UserID: user, Began: s.Start(), N: n, Lesser: lesser}
}

func (s Session) webhook(e sim.Event) webhookOf {
	p := lookup(s.Provider)
	body := p.gen.Body(e)
	if body == nil {
		return webhookOf{}
	}
	ev, ok := p.receive(body)
	return webhookOf{body, ev, ok}
}

// decision is the webhook of the session's i-th decision; timed gives it
// its time even when its webhook has none (as the API always does).
func (s Session) decision(user string, i int, d Decision, timed bool) webhookOf {
	return s.webhook(s.decisionEvent(user, i, d, timed))
}

func (s Session) decisionEvent(user string, i int, d Decision, timed bool) sim.Event {
	e := s.event(user, workflows.KindDecision, i)
	e.Status, e.ReasonCode = d.Status, d.ReasonCode
	if timed || !d.NoTime {
		e.At = d.providerTime(s)
	}
	return e
}

func (s Session) screening(user string, i int, sg Screening) webhookOf {
	e := s.event(user, workflows.KindScreening, i)
	e.Status = sg.Status
	if !sg.NoTime {
		e.At = s.Start().Add(sg.Offset)
	}
	return s.webhook(e)
}

// betterSource is the better of two user-id sources, as the provider's
// rules rank them ("" is no source).
func (s Session) betterSource(a, b string) string {
	if a == "" {
		return b
	}
	rank := func(x string) int {
		if i := slices.Index(lookup(s.Provider).rules.UserIDSources, x); i >= 0 {
			return i
		}
		return len(lookup(s.Provider).rules.UserIDSources)
	}
	if b != "" && rank(b) < rank(a) {
		return b
	}
	return a
}

// RaceDeliveries are the session's race decisions as the receiver signals
// them when they arrive at at (those the receiver takes then).
func (s Session) RaceDeliveries(user string, at time.Time) []Delivery {
	var out []Delivery
	for i, d := range s.Decisions {
		if !d.Race {
			continue
		}
		w := s.decision(user, i, d, false)
		e := w.ev
		e.ReceivedAt = at
		if w.ok && e.Validate() == nil {
			out = append(out, Delivery{At: at, Ev: e, Body: w.body})
		}
	}
	return out
}

// Deliveries lists every webhook of the session in arrival order, each with
// the receipt time the receiver stamps.
func (s Session) Deliveries(user string) []Delivery {
	var out []Delivery
	add := func(cluster time.Duration, offsets []time.Duration, w webhookOf) {
		if !w.ok {
			return // the receiver acknowledges it and signals nothing
		}
		for _, o := range offsets {
			e := w.ev
			e.ReceivedAt = s.Start().Add(cluster + o)
			if e.Validate() != nil {
				continue // the receiver answers 400: dated in the future (R5)
			}
			out = append(out, Delivery{At: e.ReceivedAt, Ev: e, Body: w.body})
		}
	}
	opening := s.webhook(s.event(user, workflows.KindProgress, 0))
	add(0, []time.Duration{0}, opening) // every session begins with one
	if s.LateNudge {
		add(s.lateCluster(), []time.Duration{0}, opening)
	}
	for i, d := range s.Decisions {
		w := s.decision(user, i, d, false)
		add(0, d.Early, w)
		add(s.lateCluster(), d.Again, w)
	}
	processed := s.webhook(s.event(user, workflows.KindProcessed, 0))
	for _, o := range s.Processed {
		add(0, []time.Duration{o}, processed)
	}
	for i, sg := range s.Screenings {
		w := s.screening(user, i, sg)
		add(0, sg.Early, w)
		add(s.lateCluster(), sg.Again, w)
	}
	for i, o := range s.Others {
		add(0, []time.Duration{o}, s.webhook(s.event(user, workflows.KindOther, i)))
	}
	for _, d := range s.StaleDeliveries(user) {
		Stale(s.Provider, d.Body) // refused, as the receiver would: never signalled
	}
	slices.SortStableFunc(out, func(a, b Delivery) int { return a.At.Compare(b.At) })
	return out
}

// ProviderState sets what the emulated API answers for the session from
// at on: its latest decision made by then (nil: none), or nothing at all
// (404) for a session it does not know; a transient fault fails its next
// two calls.
func (s Session) ProviderState(emu *emulator.Emulator, user string, at time.Time) {
	if s.Fault == "notfound" {
		return
	}
	var latest *sim.Event
	for i, d := range s.Decisions {
		if !d.Late || !at.Before(s.Start().Add(s.tm.LateMade)) {
			e := s.decisionEvent(user, i, d, true)
			latest = &e
		}
	}
	emu.Put(s.Provider, s.ID, lookup(s.Provider).gen.API(s.ID, user, s.Start(), latest))
	if s.Fault == "transient" {
		emu.FailNext(s.ID, emulator.Fault{Status: 500}, emulator.Fault{Status: 500})
	}
}

// ── The reference model: docs/semantics.md, and nothing else ───────────

// Entry is what the user's record shows of a decision.
type Entry struct {
	At                              time.Time
	Rank                            int
	Status, Provider, Session, Code string
	Reason, Source                  string
	sessionEnd, looseReason         bool
}

// after is R2/R3's order: later order time, then higher rank, then the
// text fields in turn.
func (a Entry) after(b Entry) bool {
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

func maxOf(ds ...*Entry) *Entry {
	var m *Entry
	for _, d := range ds {
		if d != nil && (m == nil || d.after(*m)) {
			m = d
		}
	}
	return m
}

// R1: final statuses.
func final(status string) bool {
	return slices.Contains([]string{"approved", "declined", "expired", "abandoned"}, status)
}

// R5: the order time.
func orderTime(provider, received time.Time) time.Time {
	if provider.IsZero() {
		return received
	}
	return provider
}

// R5: a webhook dated more than five minutes after its arrival is refused.
func acceptedAt(provider, received time.Time) bool {
	return provider.IsZero() || !provider.After(received.Add(5*time.Minute))
}

// accepted is the arrivals of a webhook the receiver takes.
func accepted(offsets []time.Duration, start time.Time, cluster time.Duration, provider time.Time) []time.Duration {
	var out []time.Duration
	for _, o := range offsets {
		if acceptedAt(provider, start.Add(cluster+o)) {
			out = append(out, o)
		}
	}
	return out
}

type Result struct {
	record     *Entry  // the decision the record shows (R2)
	latest     *Entry  // the record's latest session outcome
	candidates []Entry // every decision a run may write
	screening  string
	notified   bool // the record's decision must have been sent to the app
}

// Record is the decision the record must end with (nil: none).
func (r Result) Record() *Entry { return r.record }

// Unnotified is r for a schedule whose app must not hear of the record's
// decision: a review gate held it back (R11).
func (r Result) Unnotified() Result {
	r.notified = false
	return r
}

// Screening is the screening status the record must end with.
func (r Result) Screening() string { return r.screening }

// R1: a verdict on the person.
func verdict(status string) bool { return status == "approved" || status == "declined" }

// Model is docs/semantics.md applied to the schedule.
func Model(sc Schedule) Result {
	var res Result
	// R2, R7: the store takes every decision a session gives and every
	// ending; the record is their fold, whatever the order.
	var taken []*Entry
	changes := map[string]bool{}
	type screen struct {
		at     time.Time
		status string
	}
	var screenings []screen
	for _, s := range sc.Sessions {
		began := s.Start() // R4: the session's first run starts at its first webhook
		rank := func(status string) int {
			if final(status) {
				return 2
			}
			return 1
		}
		decision := func(ev workflows.Event, received time.Time, source string) *Entry {
			return &Entry{At: orderTime(ev.OccurredAt, received), Rank: rank(string(ev.Decision)), Status: string(ev.Decision),
				Provider: s.Provider, Session: s.ID, Code: ev.ReasonCode, Source: s.betterSource(source, ev.UserIDSource)}
		}
		// R4: an ending follows when the session began and everything the
		// store holds of it.
		end := func(status string, after *Entry, source string) *Entry {
			at := began
			if after != nil && after.At.After(at) {
				at = after.At
			}
			e := &Entry{At: at, Rank: 3, Status: status, Provider: s.Provider, Session: s.ID,
				Source: source, sessionEnd: true}
			if status == "expired" {
				e.Reason = "no final decision before IDV_SESSION_EXPIRY"
			} else {
				e.looseReason = true // the provider API's own words
			}
			return e
		}
		// R7: what the store holds of the session across its runs: its
		// greatest decision, and the first receipt of each untimed one.
		var prior *Entry
		firstReceipt := map[string]time.Time{}
		screened := map[string]bool{}
		// R8: one run per cluster of deliveries.
		for _, late := range []bool{false, true} {
			cluster := time.Duration(0)
			if late {
				cluster = s.lateCluster()
			}
			// The run names the user by the best field any of its events
			// names them in (docs/semantics.md, Words).
			source := ""
			see := func(ev workflows.Event) { source = s.betterSource(source, ev.UserIDSource) }
			opened := !late || s.LateNudge
			if opened {
				see(s.webhook(s.event(sc.User, workflows.KindProgress, 0)).ev)
			}
			if !late {
				if w := s.webhook(s.event(sc.User, workflows.KindProcessed, 0)); w.ok && len(s.Processed) > 0 {
					see(w.ev)
				}
				for i := range s.Others {
					if w := s.webhook(s.event(sc.User, workflows.KindOther, i)); w.ok {
						see(w.ev)
					}
				}
			}
			// R7: deliveries with one provider identity are one event,
			// taken in at its first arrival in the run.
			first := map[string]time.Time{}
			var order []string
			byID := map[string]workflows.Event{}
			for i, d := range s.Decisions {
				when := d.Early
				if late {
					when = d.Again
				}
				ev := s.decision(sc.User, i, d, false).ev
				if when = accepted(when, s.Start(), cluster, ev.OccurredAt); len(when) == 0 {
					continue
				}
				opened = true
				see(ev)
				at := s.Start().Add(cluster + slices.Min(when))
				if f, ok := first[ev.ID]; !ok || at.Before(f) {
					if !ok {
						order = append(order, ev.ID)
					}
					first[ev.ID], byID[ev.ID] = at, ev
				}
			}
			// R7 again: screenings with one identity are one, at its first
			// arrival in the run; one an earlier run took is a repeat.
			seen := map[string]int{}
			for i, sg := range s.Screenings {
				when := sg.Early
				if late {
					when = sg.Again
				}
				ev := s.screening(sc.User, i, sg).ev
				if when = accepted(when, s.Start(), cluster, ev.OccurredAt); len(when) == 0 {
					continue
				}
				opened = true
				see(ev)
				g := screen{orderTime(ev.OccurredAt, s.Start().Add(cluster+slices.Min(when))), ev.ProviderStatus}
				if i, ok := seen[ev.ID]; ok {
					if g.at.Before(screenings[i].at) {
						screenings[i] = g
					}
					continue
				}
				if screened[ev.ID] {
					continue
				}
				seen[ev.ID] = len(screenings)
				screenings = append(screenings, g)
			}
			if !opened {
				continue
			}
			for id := range seen {
				screened[id] = true
			}
			var known []*Entry
			for _, id := range order {
				at := first[id]
				if r, ok := firstReceipt[id]; ok {
					at = r // taken before: ordered as it was then
				}
				known = append(known, decision(byID[id], at, source))
			}
			// R7: a change the store took before (the same session, status,
			// reason code and time) is answered from its log: the first
			// one stands, whatever field the later run named the user by.
			take := func(es ...*Entry) {
				for _, e := range es {
					if e == nil {
						continue
					}
					id := fmt.Sprint(e.Session, e.Status, e.Code, e.At.UnixMicro(), e.sessionEnd)
					if changes[id] {
						continue
					}
					changes[id] = true
					res.candidates = append(res.candidates, *e)
					taken = append(taken, e)
				}
			}
			// Race decisions arrive only while the first run meets the
			// provider's permanent refusal; the receiver times them then,
			// but they are timed, so only their provider time counts.
			var races []*Entry
			if !late {
				for i, d := range s.Decisions {
					if d.Race {
						ev := s.decision(sc.User, i, d, false).ev
						races = append(races, decision(ev, time.Time{}, source))
					}
				}
			}
			raceSource := source
			for _, r := range races {
				raceSource = s.betterSource(raceSource, r.Source)
			}
			if lookup(s.Provider).rules.FetchesDetails && s.Fault == "notfound" {
				// Every write waits for the details, which never come: the
				// run writes only its error.
				take(end("error", prior, source))
				continue
			}
			// R7: the run writes every decision it received.
			for _, id := range order {
				if _, ok := firstReceipt[id]; !ok && byID[id].OccurredAt.IsZero() {
					firstReceipt[id] = first[id]
				}
			}
			take(known...)
			// R8: a new run asks the store first what the session holds
			// from its earlier runs; one that holds a final decision
			// already is not waited for, polled or ended again.
			latest := maxOf(maxOf(known...), prior)
			switch {
			case latest != nil && final(latest.Status):
				// Nothing refuses the run: its race decisions never come.
			case s.Fault == "notfound" && s.RaceAt == "write":
				// The first poll is refused for good; while the error is
				// written, the race decisions come, and a newer one goes to
				// a new run (R8).
				take(end("error", maxOf(latest, prior), source))
				take(races...)
				if newer := maxOf(races...); newer != nil && (latest == nil || newer.after(*latest)) {
					if latest = maxOf(latest, newer); !final(latest.Status) {
						take(end("error", maxOf(latest, prior), raceSource))
					}
				}
				known = append(known, races...)
			case s.Fault == "notfound":
				// The race decisions come while the first poll runs, which
				// is refused for good (R8).
				take(races...)
				known = append(known, races...)
				if latest = maxOf(append(races, latest)...); latest == nil || !final(latest.Status) {
					take(end("error", maxOf(latest, prior), raceSource))
				}
			default:
				// R8: the run polls; the API answers its latest decision.
				var polled *Entry
				for i, d := range s.Decisions {
					if !d.Late || late {
						polled = decision(s.decision(sc.User, i, d, true).ev, time.Time{}, source)
					}
				}
				take(polled)
				latest = maxOf(latest, polled, prior)
				if latest == nil || !final(latest.Status) {
					after := source
					if polled != nil {
						after = polled.Source
					}
					take(end("expired", latest, after))
				}
				known = append(known, polled)
			}
			prior = maxOf(append(known, prior)...)
		}
	}
	// R2: the record shows the greatest verdict once there is one, else
	// the greatest session outcome; the latest is the greatest of all.
	res.latest = maxOf(taken...)
	var verdicts []*Entry
	for _, e := range taken {
		if verdict(e.Status) {
			verdicts = append(verdicts, e)
		}
	}
	res.record = res.latest
	if v := maxOf(verdicts...); v != nil {
		res.record = v
	}
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

// Users reads the store.
type Users interface {
	Get(ctx context.Context, userID string) (userstore.User, error)
}

// Notification is one post the app received.
type Notification struct {
	WebhookID string
	Data      activities.Notification
}

// Fataler is what Check needs of a *testing.T or a *rapid.T.
type Fataler interface {
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// Check compares the user's record, its history and the notifications
// with the model. Exact is false where the session's start comes from a
// real clock: an ending's time (R4) is then compared within a second.
func Check(t Fataler, users Users, sent []Notification, sc Schedule, want Result, exact bool) {
	u, err := users.Get(context.Background(), sc.User)
	if err != nil {
		t.Fatalf("user %s: %v (model: %+v)", sc.User, err, want.record)
	}
	for _, h := range u.History {
		t.Logf("history: %s %s %s %s %s applied %s", h.Kind, h.Status, h.SessionID, h.DecidedAt.Format(time.RFC3339Nano), h.ReasonCode, h.AppliedAt.Format(time.RFC3339Nano))
	}
	t.Logf("record %s %s %s, latest %+v", u.Status, u.SessionID, u.DecidedAt, u.LatestSession)
	got := Entry{At: u.DecidedAt, Status: u.Status, Provider: u.Provider, Session: u.SessionID,
		Code: u.ReasonCode, Reason: u.Reason, Source: u.UserIDSource}
	m := *want.record
	// R2: the record is the greatest decision, field by field.
	timeOK := got.At.Equal(m.At)
	if !exact && m.sessionEnd {
		timeOK = !got.At.Before(m.At) && got.At.Sub(m.At) < time.Second
	}
	if !timeOK || got.Status != m.Status || got.Provider != m.Provider || got.Session != m.Session ||
		got.Code != m.Code || got.Source != m.Source || (!m.looseReason && got.Reason != m.Reason) || (m.looseReason && got.Reason == "") {
		t.Fatalf("R2: record %+v,\nmodel wants %+v", got, m)
	}
	// R2: the latest session outcome beside it.
	l, ml := u.LatestSession, *want.latest
	latestOK := l.DecidedAt.Equal(ml.At) || (!exact && ml.sessionEnd && !l.DecidedAt.Before(ml.At) && l.DecidedAt.Sub(ml.At) < time.Second)
	if !latestOK || l.Status != ml.Status || l.SessionID != ml.Session || l.Provider != ml.Provider || l.ReasonCode != ml.Code {
		t.Fatalf("R2: latest session %+v,\nmodel wants %+v", l, ml)
	}
	// R6: the newest screening.
	if u.ScreeningStatus != want.screening {
		for _, h := range u.History {
			t.Logf("history: %+v", h)
		}
		t.Fatalf("R6: screening %q, model wants %q", u.ScreeningStatus, want.screening)
	}
	// R2/R7: each history row is a decision a session made or an ending,
	// and the history moves forward on each of its two tracks: a row is
	// newer than every row before it (a new latest), or a verdict newer
	// than every verdict before it; consecutive rows say different things;
	// the last is the record's or its latest session's.
	var prev *Entry
	var newest, newestVerdict *Entry
	for _, h := range u.History {
		if h.Kind != userstore.KindDecision {
			continue
		}
		row := Entry{At: h.DecidedAt, Status: h.Status, Provider: h.Provider, Session: h.SessionID, Code: h.ReasonCode}
		if !slices.ContainsFunc(want.candidates, func(c Entry) bool {
			near := c.At.Equal(row.At) || (!exact && c.sessionEnd && !row.At.Before(c.At) && row.At.Sub(c.At) < time.Second)
			return near && c.Status == row.Status && c.Session == row.Session && c.Code == row.Code
		}) {
			for _, c := range want.candidates {
				t.Logf("candidate: %+v", c)
			}
			t.Fatalf("R7: history row %+v is no decision of the user's sessions (the candidates are logged above)", row)
		}
		// R1, R3: a row with idvflow's reason is an ending.
		switch {
		case h.Reason != "":
			row.Rank = 3
		case final(h.Status):
			row.Rank = 2
		default:
			row.Rank = 1
		}
		row.Reason = h.Reason
		isLatest := newest == nil || row.after(*newest)
		switch {
		case isLatest:
			newest = &row
		case verdict(row.Status) && (newestVerdict == nil || row.after(*newestVerdict)):
		default:
			t.Fatalf("R2: history moved backwards: %+v after %+v (verdict %+v)", row, *newest, newestVerdict)
		}
		if verdict(row.Status) && (newestVerdict == nil || row.after(*newestVerdict)) {
			newestVerdict = &row
		}
		// The same decision twice in a row is one change applied twice. (The
		// same content at another time may follow: a key the store moved
		// without a row, R2, can make it new on the other track.)
		if prev != nil && row.At.Equal(prev.At) && row.Status == prev.Status && row.Session == prev.Session && row.Code == prev.Code && row.Provider == prev.Provider {
			t.Fatalf("R7: one decision applied twice: %+v", row)
		}
		prev = &row
	}
	if prev == nil || !((prev.Status == m.Status && prev.Session == m.Session) || (prev.Status == ml.Status && prev.Session == ml.Session)) {
		t.Fatalf("R2: the last history row %+v is neither the record's %s/%s nor its latest %s/%s", prev, m.Session, m.Status, ml.Session, ml.Status)
	}
	// The app heard of the decision the record holds, under one id; each
	// notification is dated as the store orders a decision of the user's
	// sessions (R7: an untimed one at its first receipt, an ending when the
	// store ordered it), never at a later receipt or at no time.
	ids := map[string]string{}
	heard := false
	for _, n := range sent {
		if !slices.ContainsFunc(want.candidates, func(c Entry) bool {
			near := c.At.Equal(n.Data.DecidedAt) || (!exact && c.sessionEnd && !n.Data.DecidedAt.Before(c.At) && n.Data.DecidedAt.Sub(c.At) < time.Second)
			return near && c.Session == n.Data.SessionID && c.Status == n.Data.Status && c.Code == n.Data.ReasonCode
		}) {
			t.Fatalf("R7: notification %s of %s/%s dated %s is no decision of the user's sessions as the store orders them",
				n.WebhookID, n.Data.SessionID, n.Data.Status, n.Data.DecidedAt)
		}
		k := n.Data.SessionID + "|" + n.Data.Status + "|" + n.Data.ReasonCode + "|" + n.Data.DecidedAt.UTC().Format(time.RFC3339Nano)
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

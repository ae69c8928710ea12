// Package schedules generates verification schedules and says, by a
// reference model written from docs/semantics.md and nothing else, what
// the user's record must be after them. The time-skipping workflow test and
// the end-to-end test against a real server both use it.
package schedules

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/veriff"

	"pgregory.net/rapid"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/emulator"
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
	LateNudge  bool   // a progress event in the late cluster: a late run with nothing to decide
	Fault      string // "", "transient", "notfound"
	tm         Timing
}

type Schedule struct {
	User     string
	Sessions []Session
	RunOrder []int // the order sessions run in the test environment
	tm       Timing
}

// Start is when the session's first webhook arrives.
func (s Session) Start() time.Time { return s.tm.Base.Add(s.At) }

func (d Decision) providerTime(s Session) time.Time {
	t := s.Start().Add(d.Offset)
	if d.Late {
		t = t.Add(s.tm.LateMade)
	}
	if s.Provider == passbase.Name {
		t = t.Truncate(time.Second) // Passbase times are whole seconds
	}
	return t
}

var (
	veriffStatuses   = []string{"approved", "declined", "resubmission_requested", "review", "expired", "abandoned"}
	passbaseStatuses = []string{"approved", "declined", "pending"}
)

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
			Provider: rapid.SampledFrom([]string{veriff.Name, passbase.Name}).Draw(t, "provider"),
			ID:       fmt.Sprintf("%08x-0000-4000-8000-%012x", n, i),
			At:       (time.Duration(rapid.IntRange(0, 30).Draw(t, "session start step")) * tm.StartUnit).Truncate(time.Second),
			tm:       tm,
			Fault:    rapid.SampledFrom([]string{"", "", "", "transient", "notfound"}).Draw(t, "fault"),
		}
		statuses := veriffStatuses
		if s.Provider == passbase.Name {
			statuses = passbaseStatuses
		}
		var offset time.Duration
		for range rapid.IntRange(0, 3).Draw(t, "decisions") {
			// Nondecreasing provider times, often equal, sometimes "in
			// the future" of their arrival (up to an hour).
			offset += rapid.SampledFrom(tm.TimeSteps).Draw(t, "time step")
			d := Decision{
				Status: rapid.SampledFrom(statuses).Draw(t, "status"),
				Offset: offset,
				Late:   rapid.IntRange(0, 4).Draw(t, "late") == 0,
				NoTime: rapid.IntRange(0, 4).Draw(t, "no time") == 0,
			}
			// An event without a time arrives in one run only (docs/semantics.md,
			// "Known limits"): not redelivered late, not made late.
			d.NoTime = d.NoTime && !d.Late && tm.NoTime
			if s.Provider == veriff.Name {
				d.ReasonCode = rapid.SampledFrom([]string{"", "", "102", "105"}).Draw(t, "reason code")
			}
			if !d.Late {
				d.Early = arrivals(t, tm, "decision arrival", 3)
			}
			if !d.NoTime {
				d.Again = arrivals(t, tm, "decision late arrival", 1)
			}
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
		if s.Provider == veriff.Name {
			for range rapid.IntRange(0, 2).Draw(t, "screenings") {
				sg := Screening{
					Status: rapid.SampledFrom([]string{"no_match", "possible_match"}).Draw(t, "screening status"),
					Offset: (time.Duration(rapid.IntRange(0, 600).Draw(t, "screening step")) * tm.ArrivalUnit).Truncate(time.Second),
					NoTime: rapid.IntRange(0, 4).Draw(t, "screening no time") == 0 && tm.NoTime,
					Early:  arrivals(t, tm, "screening arrival", 2),
				}
				if !sg.NoTime {
					sg.Again = arrivals(t, tm, "screening late arrival", 1)
				}
				s.Screenings = append(s.Screenings, sg)
			}
		}
		s.Others = arrivals(t, tm, "other arrival", 1)
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

// Delivery is one webhook as the receiver signals it.
type Delivery struct {
	At time.Time
	Ev workflows.Event
}

func (s Session) userSource() string {
	if s.Provider == veriff.Name {
		return "vendorData"
	}
	return "additional_attributes.customer_user_id"
}

func (s Session) event(user, id, typ string, kind workflows.Kind) workflows.Event {
	return workflows.Event{ID: id, Provider: s.Provider, SessionID: s.ID, Type: typ, Kind: kind,
		UserID: user, UserIDSource: s.userSource()}
}

func (s Session) decisionEvent(user string, i int, d Decision) workflows.Event {
	var pt time.Time
	if !d.NoTime {
		pt = d.providerTime(s)
	}
	var ev workflows.Event
	if s.Provider == veriff.Name {
		ev = s.event(user, "decision/attempt-"+strconv.Itoa(i)+"/"+d.Status+"/"+pt.Format(time.RFC3339Nano), "decision", workflows.KindDecision)
		ev.AttemptID = "attempt-" + strconv.Itoa(i)
	} else {
		ev = s.event(user, "VERIFICATION_REVIEWED/"+s.ID+"/"+strconv.FormatInt(pt.Unix(), 10)+"/"+d.Status, "VERIFICATION_REVIEWED", workflows.KindDecision)
	}
	ev.Decision, ev.ProviderStatus, ev.ReasonCode, ev.OccurredAt = workflows.Status(d.Status), d.Status, d.ReasonCode, pt
	return ev
}

func (s Session) screeningEvent(user string, sg Screening) workflows.Event {
	var pt time.Time
	if !sg.NoTime {
		pt = s.Start().Add(sg.Offset)
	}
	// The identity stands for the digest of the signed body (R7): two
	// screenings differ in it exactly when their bodies do.
	ev := s.event(user, "screening/"+sg.Status+"/"+strconv.FormatInt(int64(sg.Offset), 10)+"/"+pt.Format(time.RFC3339Nano), "watchlist:updated_result", workflows.KindScreening)
	ev.ProviderStatus, ev.OccurredAt = sg.Status, pt
	return ev
}

// Deliveries lists every webhook of the session in arrival order, each with
// the receipt time the receiver stamps.
func (s Session) Deliveries(user string) []Delivery {
	var out []Delivery
	add := func(cluster time.Duration, offsets []time.Duration, ev workflows.Event) {
		for _, o := range offsets {
			e := ev
			e.ReceivedAt = s.Start().Add(cluster + o)
			if e.Validate() != nil {
				continue // the receiver answers 400: dated in the future (R5)
			}
			out = append(out, Delivery{At: e.ReceivedAt, Ev: e})
		}
	}
	progress := s.event(user, "event/start/7001", "event:started", workflows.KindProgress)
	add(0, []time.Duration{0}, progress) // every session begins with one
	if s.LateNudge {
		add(s.tm.LateCluster, []time.Duration{0}, progress)
	}
	for i, d := range s.Decisions {
		ev := s.decisionEvent(user, i, d)
		add(0, d.Early, ev)
		add(s.tm.LateCluster, d.Again, ev)
	}
	for _, o := range s.Processed {
		add(0, []time.Duration{o}, s.event(user, "processed", "event:submitted", workflows.KindProcessed))
	}
	for _, sg := range s.Screenings {
		ev := s.screeningEvent(user, sg)
		add(0, sg.Early, ev)
		add(s.tm.LateCluster, sg.Again, ev)
	}
	for i, o := range s.Others {
		add(0, []time.Duration{o}, s.event(user, "other/"+strconv.Itoa(i), "other", workflows.KindOther))
	}
	slices.SortStableFunc(out, func(a, b Delivery) int { return a.At.Compare(b.At) })
	return out
}

func (s Session) ProviderState(emu *emulator.Emulator, user string, at time.Time) {
	if s.Fault == "notfound" {
		return
	}
	var last *Decision
	for i := range s.Decisions {
		if !s.Decisions[i].Late || !at.Before(s.Start().Add(s.tm.LateMade)) {
			last = &s.Decisions[i]
		}
	}
	if s.Provider == veriff.Name {
		var v json.RawMessage
		if last != nil {
			b, _ := json.Marshal(map[string]any{"id": s.ID, "status": last.Status, "reasonCode": nullIfEmpty(last.ReasonCode),
				"vendorData": user, "decisionTime": last.providerTime(s), "attemptId": "api"})
			v = b
		}
		emu.Put(veriff.Name, s.ID, v)
	} else {
		status, updated := "processing", s.Start().Unix()
		if last != nil {
			status, updated = last.Status, last.providerTime(s).Unix()
		}
		b, _ := json.Marshal(map[string]any{"id": s.ID, "status": status, "updated": updated,
			"metadata": map[string]any{"customer_user_id": user}})
		emu.Put(passbase.Name, s.ID, b)
	}
	if s.Fault == "transient" {
		emu.FailNext(s.ID, emulator.Fault{Status: 500}, emulator.Fault{Status: 500})
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ── The reference model: docs/semantics.md, and nothing else ───────────

// Entry is what the user's record shows of a decision.
type Entry struct {
	At                                 time.Time
	Rank                               int
	Status, Provider, Session, Code    string
	Reason, Source                     string
	sessionEnd, looseReason, hasReason bool
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
	record     *Entry
	candidates []Entry // every decision a run may write
	screening  string
	notified   bool // the record's decision must have been sent to the app
}

// Screening is the screening status the record must end with.
func (r Result) Screening() string { return r.screening }

// Model is docs/semantics.md applied to the schedule.
func Model(sc Schedule) Result {
	var res Result
	var results []*Entry
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
		decision := func(d Decision, pt, received time.Time) *Entry {
			return &Entry{At: orderTime(pt, received), Rank: rank(d.Status), Status: d.Status,
				Provider: s.Provider, Session: s.ID, Code: d.ReasonCode, Source: s.userSource()}
		}
		end := func(status string, after *Entry) *Entry {
			at := began
			if after != nil && after.At.After(at) {
				at = after.At
			}
			e := &Entry{At: at, Rank: 3, Status: status, Provider: s.Provider, Session: s.ID,
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
				cluster = s.tm.LateCluster
			}
			var known []*Entry
			opened := !late || s.LateNudge
			// R7: deliveries with one provider identity are one event,
			// taken in at its first arrival in the run.
			first := map[string]time.Time{}
			var order []string
			byID := map[string]Decision{}
			for i, d := range s.Decisions {
				when := d.Early
				if late {
					when = d.Again
				}
				ev := s.decisionEvent(sc.User, i, d)
				if when = accepted(when, s.Start(), cluster, ev.OccurredAt); len(when) == 0 {
					continue
				}
				opened = true
				at := s.Start().Add(cluster + slices.Min(when))
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
			// R7 again: screenings with one identity are one, at its first
			// arrival in the run.
			seen := map[string]int{}
			for _, sg := range s.Screenings {
				when := sg.Early
				if late {
					when = sg.Again
				}
				ev := s.screeningEvent(sc.User, sg)
				if when = accepted(when, s.Start(), cluster, ev.OccurredAt); len(when) == 0 {
					continue
				}
				opened = true
				g := screen{orderTime(ev.OccurredAt, s.Start().Add(cluster+slices.Min(when))), sg.Status}
				if i, ok := seen[ev.ID]; ok {
					if g.at.Before(screenings[i].at) {
						screenings[i] = g
					}
					continue
				}
				seen[ev.ID] = len(screenings)
				screenings = append(screenings, g)
			}
			if !opened {
				continue
			}
			res.candidates = append(res.candidates, derefs(known)...)
			latest := maxOf(known...)
			var result *Entry
			switch {
			case s.Provider == passbase.Name && s.Fault == "notfound":
				// Every write waits for the identity, which never comes.
				result = end("error", nil)
			case latest != nil && final(latest.Status):
				result = latest
			case s.Fault == "notfound":
				result = end("error", latest) // the first poll is refused for good
			default:
				// R8: the run polls; the API answers its latest decision.
				var polled *Entry
				for _, d := range s.Decisions {
					if !d.Late || late {
						polled = decision(d, d.providerTime(s), time.Time{})
					}
				}
				if polled != nil {
					res.candidates = append(res.candidates, *polled)
				}
				latest = maxOf(latest, polled)
				if latest != nil && final(latest.Status) {
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

func derefs(ds []*Entry) []Entry {
	out := make([]Entry, len(ds))
	for i, d := range ds {
		out[i] = *d
	}
	return out
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
	// R6: the newest screening.
	if u.ScreeningStatus != want.screening {
		for _, h := range u.History {
			t.Logf("history: %+v", h)
		}
		t.Fatalf("R6: screening %q, model wants %q", u.ScreeningStatus, want.screening)
	}
	// R2/R7: the history moves forward only, each row a decision a session
	// made, consecutive rows saying different things, the last the record's.
	var prev *Entry
	for _, h := range u.History {
		if h.Kind != userstore.KindDecision {
			continue
		}
		row := Entry{At: h.DecidedAt, Status: h.Status, Provider: h.Provider, Session: h.SessionID, Code: h.ReasonCode}
		if !slices.ContainsFunc(want.candidates, func(c Entry) bool {
			near := c.At.Equal(row.At) || (!exact && c.sessionEnd && !row.At.Before(c.At) && row.At.Sub(c.At) < time.Second)
			return near && c.Status == row.Status && c.Session == row.Session && c.Code == row.Code
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
	for _, n := range sent {
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

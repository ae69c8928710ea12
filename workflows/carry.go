package workflows

import (
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/record"
)

// A run continues as new (R10) before Temporal's limits on one run (10,000
// signals, 51,200 history events): when the server suggests it, or at
// these counts, whichever comes first.
const (
	continueAfterSignals = 2000
	continueAfterEvents  = 10000
	// A poll cycle writes about a dozen events; this bounds a run that
	// polls for days at a short interval without asking the server.
	continueAfterPolls = 500
	// carriedSeen bounds the seen-id set a run hands over. Older ids may be
	// recorded again; that is safe: a decision is not newer than itself, and
	// the store answers a repeated change from its log (R7).
	carriedSeen       = 1000
	carriedMilestones = 100
	// carriedScreenings bounds the screening results waiting for the
	// session's first write; the newest are kept (R6 keeps only the newest).
	carriedScreenings = 100
	// carriedUnwritten bounds the older decisions not yet written that a
	// run hands over (writeOlder); the newest are kept.
	carriedUnwritten = 100
)

// Carried is the state one run of a session hands to the next when it
// continues as new: everything the steps decide on, and where they were.
type Carried struct {
	Config       Config              `json:"config"`
	StartedAt    time.Time           `json:"started_at"`
	Began        time.Time           `json:"began,omitzero"`
	ExpiresAt    time.Time           `json:"expires_at"`
	Seen         []string            `json:"seen,omitempty"`
	Milestones   []Milestone         `json:"milestones,omitempty"`
	Processed    bool                `json:"processed,omitempty"`
	GraceUsed    bool                `json:"grace_used,omitempty"`
	Latest       *Event              `json:"latest,omitempty"`
	Applied      *Event              `json:"applied,omitempty"`
	Screenings   []Event             `json:"screenings,omitempty"`
	Details      *activities.Details `json:"details,omitempty"`
	Polls        int                 `json:"polls,omitempty"`
	PollFrom     time.Time           `json:"poll_from,omitzero"`
	NextPollAt   time.Time           `json:"next_poll_at,omitzero"`
	Interval     time.Duration       `json:"interval,omitempty"`
	LateUntil    time.Time           `json:"late_until,omitzero"`
	Failing      string              `json:"failing,omitempty"`
	Unwritten    []Event             `json:"unwritten,omitempty"`
	Tried        *Event              `json:"tried,omitempty"`
	UserID       string              `json:"user_id,omitempty"`
	UserIDSource string              `json:"user_id_source,omitempty"`
	Status       Status              `json:"status,omitempty"`
	// Earlier is the first receipts of untimed events the session's
	// earlier runs held (session.earlier).
	Earlier map[string]time.Time `json:"earlier,omitempty"`
	// Fresh: the run handed over was a new run of the session that had
	// neither asked the store nor written (it continued as new while it
	// read the earlier runs): the next run is the new run still.
	Fresh bool `json:"fresh,omitempty"`
}

// tooLong reports whether this run should hand over to a new one.
func (s *session) tooLong(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return s.signals >= continueAfterSignals || s.pollsThisRun >= continueAfterPolls ||
		info.GetCurrentHistoryLength() >= continueAfterEvents || info.GetContinueAsNewSuggested()
}

// continueAsNew reads what is delivered and hands the session to a new run
// of the same workflow ID, which goes on where this one stopped.
func (s *session) continueAsNew(ctx workflow.Context) (Result, error) {
	s.drain(ctx)
	s.flushAttributes(ctx) // the next run starts with them
	c := s.carry()
	s.logger.Info("continuing as new", "signals", s.signals, "seen", len(c.Seen))
	in := Input{Provider: s.in.Provider, SessionID: s.in.SessionID, Integration: s.in.Integration, Carried: &c,
		Reopened: s.in.Reopened && !s.tookEarlier} // the next run asks, if this one could not
	return Result{}, workflow.NewContinueAsNewError(ctx, WorkflowName, in)
}

func (s *session) carry() Carried {
	return Carried{
		Config: s.cfg, StartedAt: s.startedAt, Began: s.began, ExpiresAt: s.expiresAt,
		Seen: lastN(s.seenOrder, carriedSeen), Milestones: lastN(s.milestones, carriedMilestones),
		Processed: s.processed, GraceUsed: s.graceUsed, Latest: s.latest, Applied: s.applied,
		Screenings: newestScreenings(s.screenings, carriedScreenings), Details: s.details, Polls: s.polls,
		PollFrom: s.pollFrom, NextPollAt: s.nextPollAt, Interval: s.interval, LateUntil: s.lateUntil,
		Failing: s.failing, Unwritten: lastN(s.unwritten, carriedUnwritten), Tried: s.tried,
		UserID: s.userID, UserIDSource: s.userIDSource, Status: s.status, Earlier: s.earlier,
		Fresh: s.fresh && !s.asked && s.applied == nil,
	}
}

func (s *session) restore(c Carried) {
	s.cfg, s.startedAt, s.began, s.expiresAt = c.Config, c.StartedAt, c.Began, c.ExpiresAt
	for _, id := range c.Seen {
		s.see(id)
	}
	s.milestones, s.processed, s.graceUsed = c.Milestones, c.Processed, c.GraceUsed
	s.latest, s.applied, s.screenings, s.details, s.polls = c.Latest, c.Applied, c.Screenings, c.Details, c.Polls
	s.pollFrom, s.nextPollAt, s.interval, s.lateUntil = c.PollFrom, c.NextPollAt, c.Interval, c.LateUntil
	s.failing, s.unwritten, s.tried = c.Failing, c.Unwritten, c.Tried
	s.userID, s.userIDSource, s.status = c.UserID, c.UserIDSource, c.Status
	s.earlier = c.Earlier
}

// newestScreenings keeps the n screenings R6 orders last, in their order.
func newestScreenings(xs []Event, n int) []Event {
	if len(xs) <= n {
		return xs
	}
	sorted := slices.Clone(xs)
	slices.SortStableFunc(sorted, func(a, b Event) int {
		at, bt := record.OrderTime(a.OccurredAt, a.ReceivedAt), record.OrderTime(b.OccurredAt, b.ReceivedAt)
		if c := at.Compare(bt); c != 0 {
			return c
		}
		return strings.Compare(a.ProviderStatus, b.ProviderStatus)
	})
	return sorted[len(sorted)-n:]
}

func lastN[T any](xs []T, n int) []T {
	if len(xs) > n {
		xs = xs[len(xs)-n:]
	}
	return append([]T(nil), xs...)
}

// events is the events c carries: the decisions applied, being applied
// and newest, those not yet written, and the screenings not yet applied.
func (c *Carried) events() []Event {
	var out []Event
	for _, e := range []*Event{c.Applied, c.Tried, c.Latest} {
		if e != nil {
			out = append(out, *e)
		}
	}
	out = append(out, c.Unwritten...)
	return append(out, c.Screenings...)
}

// HeldEvents is every event a session's run held: what the run before it
// carried over (its input: the decisions it had not applied or written,
// the screenings it had not applied, its processed milestones) and the
// webhooks it received (signals), each once, in the order the run took
// them in. An operator's retry or restart hands them to the session again
// (operator.Operator), where the run and the store drop what is a repeat.
func HeldEvents(in Input, signals []Event) []Event {
	var out []Event
	seen := map[string]bool{}
	add := func(e Event) {
		if e.ID == "" || seen[e.ID] || e.Type == storeEventType {
			return // (the store's own decision is the store's, not an event)
		}
		seen[e.ID] = true
		if e.Integration == "" {
			e.Integration = in.Integration
		}
		out = append(out, e)
	}
	if c := in.Carried; c != nil {
		for _, e := range c.events() {
			add(e)
		}
		for _, m := range c.Milestones {
			if m.Kind != KindProcessed {
				continue
			}
			at := m.At
			if at.IsZero() {
				at = m.ReceivedAt
			}
			add(Event{
				ID: "milestone/" + m.Type + "/" + at.UTC().Format(time.RFC3339Nano), Provider: in.Provider, SessionID: in.SessionID,
				Integration: in.Integration, Type: m.Type, Kind: m.Kind, OccurredAt: m.At, ReceivedAt: m.ReceivedAt,
			})
		}
	}
	for _, e := range signals {
		add(e)
	}
	return out
}

// EarlierRunsActivity is the local activity with which a run that reopens
// its session reads the session's earlier runs (session.takeEarlier). The
// worker registers operator.Activities.EarlierRuns under this name; it
// answers an Earlier.
const EarlierRunsActivity = "EarlierRuns"

// Earlier is what a run that reopens its session takes from the session's
// earlier runs that did not end on their own (failed, terminated,
// cancelled, timed out): when they first received what they held, and the
// events none of the runs after them received (operator.Redelivery, what
// a retry would hand over).
type Earlier struct {
	// Began is the earliest receipt they knew: when the session began.
	Began time.Time `json:"began,omitzero"`
	// Untimed is the first receipt of each decision and screening without
	// a provider time they held, by the event's identity: what orders it
	// (R5, R6).
	Untimed map[string]time.Time `json:"untimed,omitempty"`
	// Events are what they held that no later run received.
	Events []Event `json:"events,omitempty"`
}

// Merge takes in o's receipts: the earlier of each.
func (e *Earlier) Merge(o Earlier) {
	if !o.Began.IsZero() && (e.Began.IsZero() || o.Began.Before(e.Began)) {
		e.Began = o.Began
	}
	for id, at := range o.Untimed {
		if e.Untimed == nil {
			e.Untimed = map[string]time.Time{}
		}
		if was, ok := e.Untimed[id]; !ok || at.Before(was) {
			e.Untimed[id] = at
		}
	}
}

// FirstReceipts is when a session's run first received what it held,
// from what operator.Operator reads of its history: its input and the
// webhooks it received. The session began at the earliest receipt it knew
// (its input's, a continued run's); each decision or screening without a
// provider time is ordered by its first receipt. The store's own decision
// (askStore) is no receipt.
func FirstReceipts(in Input, signals []Event) Earlier {
	var r Earlier
	at := func(t time.Time) {
		r.Merge(Earlier{Began: t})
	}
	untimed := func(e Event) {
		if e.ID == "" || e.Type == storeEventType || e.ReceivedAt.IsZero() {
			return
		}
		at(e.ReceivedAt)
		if e.OccurredAt.IsZero() && (e.Kind == KindDecision || e.Kind == KindScreening) {
			r.Merge(Earlier{Untimed: map[string]time.Time{e.ID: e.ReceivedAt}})
		}
	}
	if c := in.Carried; c != nil {
		at(c.Began)
		r.Merge(Earlier{Untimed: c.Earlier})
		for _, e := range c.events() {
			untimed(e)
		}
	}
	for _, e := range signals {
		untimed(e)
	}
	return r
}

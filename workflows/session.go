package workflows

import (
	"errors"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
)

// session is the state of one run. Only the listener, drain and the steps
// of VerificationWorkflow change it, all on the workflow's single thread.
type session struct {
	in     Input
	cfg    Config
	logger log.Logger
	events workflow.ReceiveChannel

	// What a run hands to its continuation (see Carried).
	startedAt  time.Time // when the session's first run started
	began      time.Time // when its first event was received (R4)
	expiresAt  time.Time
	seen       map[string]bool // event IDs already recorded
	seenOrder  []string        // the same IDs, oldest first
	milestones []Milestone
	processed  bool
	graceUsed  bool
	latest     *Event // newest decision known, by order key (R2)
	applied    *Event // decision last applied to the user
	screenings []Event
	details    *activities.Details
	polls      int
	pollFrom   time.Time // when polling starts, once the wait began
	nextPollAt time.Time
	interval   time.Duration // the next wait between polls
	lateUntil  time.Time     // end of the late-event window, once it began

	failing   string  // why the session failed, while the error is not yet written
	tried     *Event  // the decision being applied, until it is
	unwritten []Event // decisions received and not yet written to the store

	userID, userIDSource string
	status               Status
	reason               string

	// earlier is the first receipt of each untimed event the session's
	// earlier runs that ended before their end held, once the run has
	// read them (takeEarlier; tookEarlier).
	earlier     map[string]time.Time
	tookEarlier bool

	fresh         bool // a new run of the session (or one that continued it before it asked or wrote: Carried.Fresh)
	asked         bool // it asked the store for the session's decision (askStore)
	decidedBefore bool // the store's answer showed a final decision an earlier run applied

	signals      int // signals this run received, repeats included
	pollsThisRun int
	nextStep     string
	nextStepAt   time.Time
	unsetAttrs   []keyword // search attributes not written yet (upsert)
}

func newSession(ctx workflow.Context, in Input, cfg Config) *session {
	now := workflow.Now(ctx)
	s := &session{
		in:        in,
		cfg:       cfg,
		logger:    workflow.GetLogger(ctx),
		events:    workflow.GetSignalChannel(ctx, SignalEvent),
		startedAt: now,
		expiresAt: now.Add(cfg.SessionExpiry),
		seen:      map[string]bool{},
		fresh:     in.Carried == nil || in.Carried.Fresh,
	}
	if c := in.Carried; c != nil {
		s.restore(*c)
	}
	return s
}

// listen records every event signal for the life of the run. It only
// records; the steps decide what the record means.
func (s *session) listen(ctx workflow.Context) {
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var e Event
			s.events.Receive(ctx, &e)
			s.record(ctx, e)
			// What a webhook changes while the run waits (a user named by
			// a better field) is written now, not when the wait ends.
			s.flushAttributes(ctx)
		}
	})
}

// drain records every signal delivered to the run before it closes. A run
// calls it right before it closes, in the same workflow task: a signal that
// arrived with the timer that ends the run would otherwise never be read
// (R8). The SDK may already have handed such a signal to the listener's
// pending Receive, so drain first yields once to let the listener record
// it, then takes whatever is still buffered. It reports whether anything
// new was recorded.
func (s *session) drain(ctx workflow.Context) bool {
	before := len(s.seenOrder)
	yieldOnce(ctx)
	s.receiveDelivered(ctx)
	return len(s.seenOrder) > before
}

// yieldOnce lets the run's other goroutines (a listener whose pending
// Receive the SDK has handed a signal) run once, in the same workflow
// task: an Await whose condition is false only on its first check. It
// writes no command.
func yieldOnce(ctx workflow.Context) {
	yielded := false
	_ = workflow.Await(ctx, func() bool {
		done := yielded
		yielded = true
		return done
	})
}

// receiveDelivered records the signals delivered to the run that the
// listener has not taken yet. Called before the run's first step, it reads
// the webhooks that started the run (they are delivered with the start, and
// the listener runs only once the first step blocks).
func (s *session) receiveDelivered(ctx workflow.Context) {
	for {
		var e Event
		if !s.events.ReceiveAsync(&e) {
			return
		}
		s.record(ctx, e)
	}
}

// pending reports whether the run has something to act on.
func (s *session) pending() bool {
	return s.hasNewDecision() || len(s.screenings) > 0
}

// ref names the session for its activities.
func (s *session) ref() activities.SessionRef {
	return activities.SessionRef{Provider: s.in.Provider, SessionID: s.in.SessionID, Integration: s.in.Integration}
}

// record takes in one event, once. A repeat of a seen ID changes only an
// earlier beginning (R4); a run started before integrations existed
// learns its integration from its first event.
func (s *session) record(ctx workflow.Context, e Event) {
	s.signals++
	if s.in.Integration == "" && e.Integration != "" {
		s.in.Integration = e.Integration
	}
	if e.ID == "" || s.seen[e.ID] {
		// A repeat may be the webhook's earlier receipt, handed on by an
		// operator's retry from a run that ended before its end: the
		// session began at its first receipt (R4), whichever run got it.
		if !e.ReceivedAt.IsZero() && e.ReceivedAt.Before(s.began) {
			s.began = e.ReceivedAt
		}
		s.logger.Debug("repeated event ignored", "type", e.Type)
		s.count(ctx, "idv_session_events_repeated", map[string]string{"kind": string(e.Kind)})
		return
	}
	s.see(e.ID)
	defer s.publish(ctx)
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = workflow.Now(ctx) // signalled by something other than the receiver
	}
	s.firstReceipt(&e)
	if s.began.IsZero() || e.ReceivedAt.Before(s.began) {
		s.began = e.ReceivedAt
	}
	s.count(ctx, "idv_session_events", map[string]string{"kind": string(e.Kind)})
	s.milestones = append(s.milestones, Milestone{Kind: e.Kind, Type: e.Type, At: e.OccurredAt, ReceivedAt: e.ReceivedAt})
	s.learnUserID(ctx, e.UserID, e.UserIDSource, e.UserRef)

	if e.Kind == KindProcessed {
		s.processed = true
	}
	if e.Kind == KindScreening && e.ProviderStatus != "" {
		s.screenings = append(s.screenings, e)
	}
	if e.Decision != "" && !s.sameAsApplied(e) {
		s.unwritten = append(s.unwritten, e) // every decision reaches the store (writeOlder)
	}
	if e.Decision != "" && (s.latest == nil || e.orderKey().Compare(s.latest.orderKey()) > 0) {
		// Decisions are ordered by the provider's time, never by arrival
		// (R2, R3): an older one that arrives late is recorded and ignored.
		s.latest = &e
	}
}

// firstReceipt gives e, if it has no provider time, the first receipt an
// earlier run of the session had of it (R5: it is ordered by that).
func (s *session) firstReceipt(e *Event) {
	if at, ok := s.earlier[e.ID]; ok && e.OccurredAt.IsZero() && at.Before(e.ReceivedAt) {
		e.ReceivedAt = at
	}
}

// earlierRunsFor bounds how long a reopened run tries to read the
// session's earlier runs (takeEarlier).
const earlierRunsFor = 10 * time.Minute

// takeEarlier is the first step of a run that reopens its session
// (Input.Reopened). The session's earlier runs that ended before their
// end (failed, terminated, cancelled, timed out) may hold webhooks they
// never wrote, and the session began at its first receipt, and an untimed
// decision is ordered by its first receipt, whichever run got them (R4,
// R5). So before it writes anything the run reads those runs (Earlier):
// it dates the session and each untimed event by their receipts, and
// takes in what they held that no run after them received, as an
// operator's retry would hand it over (a retry after this hands it again,
// a repeat). Runs recorded before release 2 do not read them. It returns
// errHandOver when the run must continue as new while it waits: the next
// run reads them, and is still the session's new run (Carried.Fresh).
func (s *session) takeEarlier(ctx workflow.Context) error {
	if !s.in.Reopened || s.tookEarlier || s.cfg.Release < 2 {
		return nil
	}
	var e Earlier
	// A local activity, as askStore: a listing and a history or two, no
	// task queue round trip. It retries for a while (Temporal briefly
	// unavailable, visibility's rate limit), but a session must not wait
	// without end on reads it can do without: past earlierRunsFor the run
	// goes on as runs did before (what it writes is ordered by what it
	// received), says so, and a retry still hands the runs' events over.
	opts := workflow.LocalActivityOptions{
		Summary: "read the session's runs that ended before their end", StartToCloseTimeout: s.cfg.activityTimeout(),
		ScheduleToCloseTimeout: earlierRunsFor,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	}
	f := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, opts), EarlierRunsActivity)
	err := s.get(ctx, f, &e)
	if errors.Is(err, errHandOver) {
		return err
	}
	s.tookEarlier = true
	if err != nil {
		s.logger.Warn("the session's earlier runs not read: this run orders what it writes by what it received; "+
			"retry the session (idvctl retry) to hand their events over", "error", err)
		s.count(ctx, "idv_session_earlier_runs_unread", nil)
		return nil
	}
	s.learnReceipts(e)
	for _, ev := range e.Events {
		s.record(ctx, ev)
	}
	return nil
}

// learnReceipts takes in e's receipts before the run writes anything:
// what the run recorded while it asked is ordered again by them, and the
// newest decision it holds chosen again.
func (s *session) learnReceipts(e Earlier) {
	if !e.Began.IsZero() && (s.began.IsZero() || e.Began.Before(s.began)) {
		s.began = e.Began
	}
	s.earlier = e.Untimed
	for i := range s.unwritten {
		s.firstReceipt(&s.unwritten[i])
	}
	for i := range s.screenings {
		s.firstReceipt(&s.screenings[i])
	}
	if s.latest == nil || s.applied != nil {
		return
	}
	// Nothing is applied yet, so unwritten holds every decision recorded.
	latest := *s.latest
	s.firstReceipt(&latest)
	for _, u := range s.unwritten {
		if u.orderKey().Compare(latest.orderKey()) > 0 {
			latest = u
		}
	}
	s.latest = &latest
}

// sameAsApplied reports whether e is the decision the run applied, under
// another identity (a poll answer of a decision that came by webhook): a
// timed decision with the same order key is the same change to the store.
func (s *session) sameAsApplied(e Event) bool {
	return s.applied != nil && !e.OccurredAt.IsZero() && e.orderKey().Compare(s.applied.orderKey()) == 0
}

// see adds id to the seen set.
func (s *session) see(id string) {
	s.seen[id] = true
	s.seenOrder = append(s.seenOrder, id)
}

// hasNewDecision reports whether a decision newer than the applied one waits.
func (s *session) hasNewDecision() bool {
	return s.latest != nil && (s.applied == nil || s.latest.orderKey().Compare(s.applied.orderKey()) > 0)
}

// decided reports whether the session holds a final decision and nothing
// newer waits: it is in its late-event window.
func (s *session) decided() bool {
	return s.applied != nil && s.applied.Decision.Final() && !s.hasNewDecision()
}

// learnUserID takes the user id of the best source the session's events
// and details gave (Rules.UserIDSources): a later event may name the user
// in a field the provider's spec ranks first. Among equals, the first wins.
//
// ref, when the ids are shown hashed, is what the IdvUserId search
// attribute shows for id.
func (s *session) learnUserID(ctx workflow.Context, id, source, ref string) {
	if id == "" || (s.userID != "" && !s.cfg.rules(s.in.Provider).betterSource(source, s.userIDSource)) {
		return
	}
	if id == s.userID {
		s.userIDSource = source // the same user, named by a better field
		return
	}
	s.userID, s.userIDSource = id, source
	s.upsert(keyword{AttrUserID, s.userIDValue(ctx, id, ref)})
}

// userIDFormChange names the marker that records the worker's form of a
// user id that came in another (MutableSideEffect).
const userIDFormChange = "idv-user-id-form"

// userIDValue is what IdvUserId shows for id: the recording worker's form
// (Config.UserIDMode, recorded with the config). ref is the form the event
// or answer came with ("": the id itself); a form other than the worker's
// means a receiver or worker set to another IDV_USER_ID_ATTRIBUTE. Only
// then is the worker's form computed and recorded (a marker), counted
// (idv_user_id_form_mismatch_total) and said once per form and process:
// the usual run, whose events come in the worker's form, records nothing
// more. (A receiver in the same mode with another IDV_USER_ID_KEY is not
// told apart: the run has no key to compare.)
func (s *session) userIDValue(ctx workflow.Context, id, ref string) string {
	if ref == "" {
		ref = id
	}
	mode := s.cfg.UserIDMode
	if s.cfg.Release < 1 || mode == "" {
		return ref // runs of 1.0, and workers without a form
	}
	from := "plain"
	if strings.HasPrefix(ref, "h1:") {
		from = "hmac"
	}
	if from == mode {
		return ref
	}
	// A replay after IDV_USER_ID_ATTRIBUTE or IDV_USER_ID_KEY changed, or
	// by a replayer with no form (cmd/replaycheck), writes what the run
	// wrote: the marker holds it.
	form := s.cfg.UserIDs
	var want string
	if err := workflow.MutableSideEffect(ctx, userIDFormChange, func(workflow.Context) any {
		if form == nil {
			return ref
		}
		return form.Value(id)
	}, func(a, b any) bool { return a == b }).Get(&want); err != nil || want == "" {
		return ref
	}
	s.count(ctx, "idv_user_id_form_mismatch", map[string]string{"from": from, "worker": mode})
	if form != nil && !workflow.IsReplaying(ctx) && form.FirstMismatch(from) {
		s.logger.Warn("IdvUserId: a user id came in another form than this worker's IDV_USER_ID_ATTRIBUTE; it is written in the worker's form. "+
			"Set the receiver and every worker alike (docs/configuration.md)", "from", from, "worker", mode)
	}
	return want
}

// resolvedUserID is the user the record belongs to. Without a user id from
// the provider it falls back to the session id, and says so in the
// provider's words (Rules.FallbackUserIDSource).
func (s *session) resolvedUserID() (string, string) {
	if s.userID != "" {
		return s.userID, s.userIDSource
	}
	if src := s.cfg.rules(s.in.Provider).FallbackUserIDSource; src != "" {
		return s.in.SessionID, src
	}
	return s.in.SessionID, "session_id"
}

func (s *session) setStatus(ctx workflow.Context, st Status) {
	s.status = st
	s.upsert(keyword{AttrProvider, s.in.Provider}, keyword{AttrStatus, string(st)})
	s.flushAttributes(ctx)
	s.publish(ctx)
}

// keyword is one search attribute the run sets.
type keyword struct {
	key   temporal.SearchAttributeKeyKeyword
	value string
}

// upsert sets search attributes. The run holds them until the status
// changes, the run waits or it ends (flushAttributes), so a change and its
// companions are one command.
func (s *session) upsert(kws ...keyword) {
	for _, kw := range kws {
		s.unsetAttrs = slices.DeleteFunc(s.unsetAttrs, func(p keyword) bool { return p.key.GetName() == kw.key.GetName() })
		s.unsetAttrs = append(s.unsetAttrs, kw)
	}
}

// flushAttributes writes the held search attributes whose values differ
// from the run's (the ones the receiver started it with included), in one
// command, or none when nothing changed.
func (s *session) flushAttributes(ctx workflow.Context) {
	current := workflow.GetTypedSearchAttributes(ctx)
	var updates []temporal.SearchAttributeUpdate
	for _, kw := range s.unsetAttrs {
		if v, ok := current.GetKeyword(kw.key); !ok || v != kw.value {
			updates = append(updates, kw.key.ValueSet(kw.value))
		}
	}
	s.unsetAttrs = nil
	if len(updates) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		s.logger.Warn("search attributes not updated", "error", err)
	}
}

// next records what the run waits for, for the state query and the Web UI.
func (s *session) next(ctx workflow.Context, step string, in time.Duration) {
	s.nextStep = step
	s.nextStepAt = time.Time{}
	if in > 0 {
		s.nextStepAt = workflow.Now(ctx).Add(in)
	}
	s.publish(ctx)
}

// wait is how an await ended.
type wait int

const (
	ready    wait = iota // the condition holds
	timedOut             // the time ran out first
	tooLong              // the run's history is long: continue as new (R10)
	settled              // the store holds the session's final decision (askStore)
)

// await waits for cond at most d, on a timer the Web UI labels summary. It
// also returns, with tooLong, when the run should continue as new. The
// timer is cancelled when cond comes first, so it never fires later for
// nothing. No timer starts for a wait that is already over.
func (s *session) await(ctx workflow.Context, d time.Duration, summary string, cond func() bool) wait {
	if d <= 0 {
		return timedOut
	}
	wake := func() bool { return cond() || s.tooLong(ctx) }
	s.flushAttributes(ctx) // with the timer, in the same task
	if cond() {
		return ready
	}
	if wake() {
		return tooLong
	}
	fired := sleepUnless(ctx, d, summary, wake)
	switch {
	case cond():
		return ready
	case !fired:
		return tooLong
	}
	return timedOut
}

// sleepUnless waits until wake holds or d passes, on a timer the Web UI
// labels summary, cancelled when wake comes first so it never fires later
// for nothing. It reports whether the timer fired.
func sleepUnless(ctx workflow.Context, d time.Duration, summary string, wake func() bool) bool {
	timerCtx, cancel := workflow.WithCancel(ctx)
	timer := workflow.NewTimerWithOptions(timerCtx, d, workflow.TimerOptions{Summary: summary})
	_ = workflow.Await(ctx, func() bool { return timer.IsReady() || wake() })
	if !timer.IsReady() {
		cancel()
	}
	return timer.IsReady()
}

// publish shows the session's state as the workflow's current details in
// the Web UI (Markdown): what it has seen, what it decided, what comes next.
func (s *session) publish(ctx workflow.Context) {
	var b strings.Builder
	w := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
		}
	}
	w("**", s.in.Provider, "** session `", s.in.SessionID, "`")
	if s.userID != "" {
		w(" for user `", s.userID, "` (from ", s.userIDSource, ")")
	}
	w("\n\n**Status:** ", string(s.status))
	if s.latest != nil {
		w(" · latest decision **", string(s.latest.Decision), "** at ", s.latest.OccurredAt.UTC().Format(time.RFC3339))
	}
	if s.reason != "" {
		w("\n\n**Reason:** ", s.reason)
	}
	w("\n\n**Milestones:**")
	if len(s.milestones) == 0 {
		w(" none yet")
	}
	for _, m := range s.milestones {
		w("\n- ", string(m.Kind), " (`", m.Type, "`)")
	}
	w("\n\n**Next:** ", s.nextStep)
	if !s.nextStepAt.IsZero() {
		w(" (by ", s.nextStepAt.UTC().Format(time.RFC3339), ")")
	}
	workflow.SetCurrentDetails(ctx, b.String())
}

// count adds one to a counter of the workflow's own, tagged with the
// provider; the SDK skips it during replay, so a replayed run counts once.
func (s *session) count(ctx workflow.Context, name string, tags map[string]string) {
	h := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"provider": s.in.Provider})
	if len(tags) > 0 {
		h = h.WithTags(tags)
	}
	h.Counter(name).Inc(1)
}

// finished writes the search attributes the run still holds and counts
// its end by its status.
func (s *session) finished(ctx workflow.Context) {
	s.flushAttributes(ctx)
	s.count(ctx, "idv_sessions_finished", map[string]string{"status": string(s.status)})
}

// Milestone is one recorded event, as the state query shows it.
type Milestone struct {
	Kind       Kind      `json:"kind"`
	Type       string    `json:"type"`
	At         time.Time `json:"at,omitzero"` // the provider's time, if it gave one
	ReceivedAt time.Time `json:"received_at,omitzero"`
}

// SessionState answers the "state" query.
type SessionState struct {
	Provider     string      `json:"provider"`
	SessionID    string      `json:"session_id"`
	UserID       string      `json:"user_id,omitempty"`
	UserIDSource string      `json:"user_id_source,omitempty"`
	Status       Status      `json:"status"`
	Reason       string      `json:"reason,omitempty"`
	Processed    bool        `json:"processed"`
	Decision     Status      `json:"decision,omitempty"`
	DecidedAt    *time.Time  `json:"decided_at,omitempty"`
	Milestones   []Milestone `json:"milestones"`
	Polls        int         `json:"polls"`
	NextStep     string      `json:"next_step"`
	NextStepAt   *time.Time  `json:"next_step_at,omitempty"`
	StartedAt    time.Time   `json:"started_at"`
	ExpiresAt    time.Time   `json:"expires_at"`
}

func (s *session) state() (SessionState, error) {
	st := SessionState{
		Provider: s.in.Provider, SessionID: s.in.SessionID,
		UserID: s.userID, UserIDSource: s.userIDSource,
		Status: s.status, Reason: s.reason, Processed: s.processed,
		Milestones: append([]Milestone{}, s.milestones...), Polls: s.polls,
		NextStep: s.nextStep, StartedAt: s.startedAt, ExpiresAt: s.expiresAt,
	}
	if s.latest != nil {
		st.Decision = s.latest.Decision
		at := s.latest.OccurredAt
		st.DecidedAt = &at
	}
	if !s.nextStepAt.IsZero() {
		at := s.nextStepAt
		st.NextStepAt = &at
	}
	return st, nil
}

// NormalizeStatus maps a provider's decision word to a Status. The
// providers' words are the Status values; an unknown word passes through
// and counts as non-final.
func NormalizeStatus(providerStatus string) Status {
	return Status(strings.ToLower(strings.TrimSpace(providerStatus)))
}

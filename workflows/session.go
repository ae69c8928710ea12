package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/userstore"
)

// session is the state of one run. Only the listener and the steps of
// VerificationWorkflow change it, all on the workflow's single thread.
type session struct {
	in        Input
	cfg       Config
	logger    log.Logger
	startedAt time.Time
	expiresAt time.Time

	seen       map[string]bool // event IDs already recorded
	milestones []Milestone
	processed  bool
	graceUsed  bool
	latest     *Event // newest decision known, by provider timestamp
	applied    *Event // decision last applied to the user
	screenings []Event
	details    *activities.Details
	polls      int

	ignoreVersions bool
	stepFailures   []string
	lastOutcome    userstore.Outcome // of the last decision applied
	decidedAt      time.Time         // of the last decision applied

	userID, userIDSource string
	status               Status
	reason               string
	nextStep             string
	nextStepAt           time.Time
}

func newSession(ctx workflow.Context, in Input, cfg Config) *session {
	now := workflow.Now(ctx)
	return &session{
		in:        in,
		cfg:       cfg,
		logger:    workflow.GetLogger(ctx),
		startedAt: now,
		expiresAt: now.Add(cfg.SessionExpiry),
		seen:      map[string]bool{},
	}
}

// listen records every event signal for the life of the run. It only
// records; the steps decide what the record means.
func (s *session) listen(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, SignalEvent)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var e Event
			ch.Receive(ctx, &e)
			s.record(ctx, e)
		}
	})
}

// record takes in one event, once: a repeat of a seen ID changes nothing.
func (s *session) record(ctx workflow.Context, e Event) {
	if e.ID == "" || s.seen[e.ID] {
		s.logger.Debug("repeated event ignored", "type", e.Type)
		s.count(ctx, "idv_session_events_repeated", map[string]string{"kind": string(e.Kind)})
		return
	}
	s.seen[e.ID] = true
	defer s.publish(ctx)
	s.count(ctx, "idv_session_events", map[string]string{"kind": string(e.Kind)})
	s.milestones = append(s.milestones, Milestone{Kind: e.Kind, Type: e.Type, At: e.OccurredAt, ReceivedAt: workflow.Now(ctx)})
	s.learnUserID(ctx, e.UserID, e.UserIDSource)

	if e.Kind == KindProcessed {
		s.processed = true
	}
	if e.Kind == KindScreening && e.ProviderStatus != "" {
		s.screenings = append(s.screenings, e)
	}
	if e.Decision != "" && (s.latest == nil || e.OccurredAt.After(s.latest.OccurredAt)) {
		// A decision is ordered by the provider's timestamp, never by
		// arrival: an older one that arrives late is recorded and ignored.
		e := e
		s.latest = &e
	}
}

// hasNewDecision reports whether a decision newer than the applied one waits.
func (s *session) hasNewDecision() bool {
	return s.latest != nil && s.latest != s.applied
}

// learnUserID keeps the first user id a source gives.
func (s *session) learnUserID(ctx workflow.Context, id, source string) {
	if id == "" || s.userID != "" {
		return
	}
	s.userID, s.userIDSource = id, source
	s.upsert(ctx, AttrUserID.ValueSet(id))
}

// resolvedUserID is the user the record belongs to. Without a user id from
// the provider it falls back to the session id (Passbase: the identity key),
// and says so.
func (s *session) resolvedUserID() (string, string) {
	if s.userID != "" {
		return s.userID, s.userIDSource
	}
	if s.in.Provider == ProviderPassbase {
		return s.in.SessionID, "identity_key"
	}
	return s.in.SessionID, "session_id"
}

func (s *session) setStatus(ctx workflow.Context, st Status) {
	s.status = st
	s.upsert(ctx, AttrProvider.ValueSet(s.in.Provider), AttrStatus.ValueSet(string(st)))
	s.publish(ctx)
}

func (s *session) upsert(ctx workflow.Context, updates ...temporal.SearchAttributeUpdate) {
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

// await waits for cond at most d, on a timer the Web UI labels summary.
func (s *session) await(ctx workflow.Context, d time.Duration, summary string, cond func() bool) bool {
	ok, _ := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
		Timeout: d, TimerOptions: workflow.TimerOptions{Summary: summary},
	}, cond)
	return ok
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
	if len(s.stepFailures) > 0 {
		w("\n\n**Failed steps:** ", strings.Join(s.stepFailures, ", "))
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

// finished counts the run's end by its status.
func (s *session) finished(ctx workflow.Context) {
	s.count(ctx, "idv_sessions_finished", map[string]string{"status": string(s.status)})
}

// Milestone is one recorded event, as the state query shows it.
type Milestone struct {
	Kind       Kind      `json:"kind"`
	Type       string    `json:"type"`
	At         time.Time `json:"at"`
	ReceivedAt time.Time `json:"received_at"`
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
	FailedSteps  []string    `json:"failed_steps,omitempty"`
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
		FailedSteps: append([]string(nil), s.stepFailures...),
		NextStep:    s.nextStep, StartedAt: s.startedAt, ExpiresAt: s.expiresAt,
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

// NormalizeStatus maps a provider's decision word to a Status. Veriff's and
// Passbase's words are the Status values; an unknown word passes through and
// counts as non-final.
func NormalizeStatus(providerStatus string) Status {
	return Status(strings.ToLower(strings.TrimSpace(providerStatus)))
}

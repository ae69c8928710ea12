package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/userstore"
)

// Search attributes every session sets, so the Web UI can list sessions by
// provider, status and user. The worker registers them at start.
var (
	AttrProvider = temporal.NewSearchAttributeKeyKeyword("IdvProvider")
	AttrStatus   = temporal.NewSearchAttributeKeyKeyword("IdvStatus")
	AttrUserID   = temporal.NewSearchAttributeKeyKeyword("IdvUserId")
)

// SearchAttributes lists the keys the worker registers.
var SearchAttributes = []temporal.SearchAttributeKey{AttrProvider, AttrStatus, AttrUserID}

// Session statuses that are not provider decisions.
const (
	// StatusWaiting: no decision yet.
	StatusWaiting Status = "waiting"
	// StatusError: the session ended on an error retrying cannot fix.
	StatusError Status = "error"
)

// Result is what a finished run returns: the status it left on the user.
type Result struct {
	UserID string `json:"user_id"`
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Verification runs VerificationWorkflow with the worker's timings.
type Verification struct {
	Config Config

	// ignoreVersions runs every onboarding step even in sessions that
	// started before it existed. Only the replay test sets it, to show that
	// the version guard is what keeps old sessions replaying.
	ignoreVersions bool
}

// VerificationWorkflow is one provider session: it collects the session's
// webhooks (signal SignalEvent), waits for the processed and decision
// milestones in any order, asks the provider's API when the decision is late,
// and brings the user's record up to date.
//
// Read it as the list of steps it is; a listener goroutine (see session.listen)
// records every signal, and each step awaits a condition on that record.
func (v *Verification) VerificationWorkflow(ctx workflow.Context, in Input) (Result, error) {
	s := newSession(ctx, in, v.recordConfig(ctx))
	s.ignoreVersions = v.ignoreVersions
	if err := workflow.SetQueryHandler(ctx, QueryState, s.state); err != nil {
		return Result{}, fmt.Errorf("set query handler: %w", err)
	}
	s.listen(ctx)
	s.setStatus(ctx, StatusWaiting)

	for {
		// 1. A decision: by webhook, or by polling once it is late.
		if !s.awaitDecision(ctx) {
			return s.expire(ctx)
		}
		// 2. The processed milestone, for at most the grace period.
		s.awaitProcessed(ctx)
		// 3. The provider's details and the user's record.
		if err := s.applyDecision(ctx); err != nil {
			return s.fail(ctx, err)
		}
		if !s.applied.Decision.Final() {
			continue // a person or the end user acts next; wait for the next decision
		}
		// 4. The onboarding steps that follow a final decision (steps.go).
		s.afterFinalDecision(ctx)
		// 5. Stay open for late changes; an empty window ends the run.
		if !s.awaitLateChanges(ctx) {
			s.finished(ctx)
			return s.result(), nil
		}
	}
}

// recordConfig stores the worker's timings in the run's history once, so a
// replay uses the values the run started with.
func (v *Verification) recordConfig(ctx workflow.Context) Config {
	var cfg Config
	encoded := workflow.SideEffect(ctx, func(workflow.Context) any { return v.Config })
	if err := encoded.Get(&cfg); err != nil {
		// Cannot happen for a plain struct; fall back to the defaults.
		return DefaultConfig()
	}
	return cfg
}

// awaitDecision returns once a decision newer than the applied one is known,
// and false when the session expired without one.
func (s *session) awaitDecision(ctx workflow.Context) bool {
	if s.hasNewDecision() {
		return true
	}
	untilExpiry := func() time.Duration { return s.expiresAt.Sub(workflow.Now(ctx)) }

	// Webhooks first: providers usually decide well within the poll delay.
	wait := min(s.cfg.DecisionPollAfter, untilExpiry())
	s.next(ctx, "await the decision webhook", wait)
	if s.await(ctx, wait, "decision webhook or poll delay", s.hasNewDecision) {
		return true
	}
	s.count(ctx, "idv_sessions_polling", nil)
	// Then ask the provider's API, backing off, until the session expires.
	interval := s.cfg.PollInterval
	for untilExpiry() > 0 {
		if err := s.poll(ctx); err != nil {
			s.logger.Warn("poll failed; polling again later", "error", err)
		}
		if s.hasNewDecision() {
			return true
		}
		wait := min(interval, untilExpiry())
		if wait <= 0 {
			break
		}
		s.next(ctx, "poll the provider for the decision", wait)
		if s.await(ctx, wait, "next poll of the provider", s.hasNewDecision) {
			return true
		}
		interval = min(2*interval, s.cfg.PollMaxInterval)
	}
	return s.hasNewDecision()
}

// awaitProcessed waits, once per run and at most the grace period, for the
// processed milestone when the provider is expected to send it.
func (s *session) awaitProcessed(ctx workflow.Context) {
	if s.processed || s.graceUsed || !s.expectsProcessed() {
		return
	}
	s.graceUsed = true
	s.next(ctx, "await the processed event (grace)", s.cfg.ProcessedGrace)
	s.await(ctx, s.cfg.ProcessedGrace, "processed event grace", func() bool { return s.processed })
}

func (s *session) expectsProcessed() bool {
	return s.in.Provider == ProviderPassbase || s.cfg.VeriffAwaitSubmitted
}

// applyDecision fetches the provider's details and applies the newest known
// decision, with any screening results, to the user's record.
func (s *session) applyDecision(ctx workflow.Context) error {
	d := s.latest
	s.next(ctx, "update the user record", 0)
	if err := s.fetchDetails(ctx); err != nil {
		return err
	}
	if err := s.updateUser(ctx, userstore.KindDecision, string(d.Decision), d.OccurredAt, d.ReasonCode, ""); err != nil {
		return err
	}
	s.applied = d
	s.setStatus(ctx, d.Decision)
	return s.applyScreenings(ctx)
}

// awaitLateChanges keeps a decided session open for the late-event window,
// restarted by each change it applies. It returns true when a newer decision
// arrived, false when the window passed quietly.
func (s *session) awaitLateChanges(ctx workflow.Context) bool {
	for {
		s.next(ctx, "absorb late events", s.cfg.LateEventWindow)
		changed := func() bool { return s.hasNewDecision() || len(s.screenings) > 0 }
		if !s.await(ctx, s.cfg.LateEventWindow, "late-event window", changed) {
			s.next(ctx, "done", 0)
			return false
		}
		if s.hasNewDecision() {
			return true
		}
		if err := s.applyScreenings(ctx); err != nil {
			s.logger.Warn("screening not applied", "error", err)
		}
	}
}

// expire marks the user expired: the session ran out of time without a final
// decision.
func (s *session) expire(ctx workflow.Context) (Result, error) {
	if err := s.fetchDetails(ctx); err != nil {
		return s.fail(ctx, err)
	}
	if err := s.updateUser(ctx, userstore.KindDecision, string(StatusExpired), workflow.Now(ctx), "", "no final decision before IDV_SESSION_EXPIRY"); err != nil {
		return s.fail(ctx, err)
	}
	s.setStatus(ctx, StatusExpired)
	s.afterFinalDecision(ctx)
	s.next(ctx, "done", 0)
	s.finished(ctx)
	return s.result(), nil
}

// fail records on the user why the session could not finish, and ends the
// run with that reason so it shows as failed in the Web UI.
func (s *session) fail(ctx workflow.Context, cause error) (Result, error) {
	reason := cause.Error()
	var appErr *temporal.ApplicationError
	if errors.As(cause, &appErr) {
		reason = appErr.Message()
	}
	s.reason = reason
	s.setStatus(ctx, StatusError)
	s.next(ctx, "failed: "+reason, 0)
	s.finished(ctx)
	// The record must say why, so this update retries until it lands.
	if err := s.updateUser(ctx, userstore.KindDecision, string(StatusError), workflow.Now(ctx), "", reason); err != nil {
		return s.result(), fmt.Errorf("record failure on user: %w", err)
	}
	return s.result(), temporal.NewNonRetryableApplicationError(reason, "SessionFailed", cause)
}

func (s *session) result() Result {
	return Result{UserID: s.userID, Status: s.status, Reason: s.reason}
}

// fetchDetails reads the provider's details once per run (Passbase: the
// identity, for the app's user id). Veriff's decision webhook and poll
// already carry theirs.
func (s *session) fetchDetails(ctx workflow.Context) error {
	if s.in.Provider != ProviderPassbase || s.details != nil {
		return nil
	}
	var a *activities.Activities
	var d activities.Details
	ref := activities.SessionRef{Provider: s.in.Provider, SessionID: s.in.SessionID}
	if err := workflow.ExecuteActivity(s.withRetries(ctx, "fetch the Passbase identity"), a.FetchDetails, ref).Get(ctx, &d); err != nil {
		return err
	}
	s.details = &d
	s.learnUserID(ctx, d.UserID, d.UserIDSource)
	return nil
}

// poll asks the provider's API for the decision and records a found one as
// if it had come by webhook, so repeats of it dedupe the same way.
func (s *session) poll(ctx workflow.Context) error {
	var a *activities.Activities
	var r activities.PollResult
	ref := activities.SessionRef{Provider: s.in.Provider, SessionID: s.in.SessionID}
	opts := workflow.ActivityOptions{
		Summary:             "poll " + s.in.Provider + " for the decision",
		StartToCloseTimeout: s.cfg.activityTimeout(),
		// A failed poll is retried by the next poll, not here.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.PollDecision, ref).Get(ctx, &r); err != nil {
		return err
	}
	s.polls++
	if !r.Found {
		return nil
	}
	at := r.DecidedAt
	if at.IsZero() {
		at = workflow.Now(ctx)
	}
	s.record(ctx, Event{
		ID:             "poll/" + r.ProviderStatus + "/" + at.UTC().Format(time.RFC3339Nano),
		Provider:       s.in.Provider,
		SessionID:      s.in.SessionID,
		Type:           "poll",
		Kind:           KindDecision,
		Decision:       NormalizeStatus(r.ProviderStatus),
		ProviderStatus: r.ProviderStatus,
		ReasonCode:     r.ReasonCode,
		OccurredAt:     at,
		UserID:         r.UserID,
		UserIDSource:   r.UserIDSource,
		AttemptID:      r.AttemptID,
	})
	return nil
}

// applyScreenings applies screening results received since the last call.
func (s *session) applyScreenings(ctx workflow.Context) error {
	for len(s.screenings) > 0 {
		sc := s.screenings[0]
		if err := s.updateUser(ctx, userstore.KindScreening, sc.ProviderStatus, sc.OccurredAt, "", ""); err != nil {
			return err
		}
		s.screenings = s.screenings[1:]
	}
	return nil
}

// updateUser applies one change to the user's record; the store makes a
// repeat a no-op, so Temporal may retry it freely.
func (s *session) updateUser(ctx workflow.Context, kind, status string, at time.Time, reasonCode, reason string) error {
	userID, source := s.resolvedUserID()
	u := activities.UserUpdate{
		UserID: userID, UserIDSource: source,
		Provider: s.in.Provider, SessionID: s.in.SessionID,
		Kind: kind, Status: status, DecidedAt: at, ReasonCode: reasonCode, Reason: reason,
	}
	var a *activities.Activities
	var out userstore.Outcome
	if err := workflow.ExecuteActivity(s.withRetries(ctx, "user record: "+kind+" "+status), a.UpdateUser, u).Get(ctx, &out); err != nil {
		return err
	}
	if kind == userstore.KindDecision {
		s.lastOutcome, s.decidedAt = out, at
	}
	s.logger.Info("user record updated", "kind", kind, "status", status, "outcome", out)
	return nil
}

// withRetries is for activities that must eventually succeed: transient
// failures retry without limit, permanent provider errors stop at once. The
// summary labels the activity in the Web UI.
func (s *session) withRetries(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		Summary:             summary,
		StartToCloseTimeout: s.cfg.activityTimeout(),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeProviderAPI},
		},
	})
}

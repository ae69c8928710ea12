package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/record"
)

// Search attributes every session sets, so the Web UI can list sessions by
// provider, status and user. The worker registers them at start.
var (
	AttrProvider = temporal.NewSearchAttributeKeyKeyword("IdvProvider")
	AttrStatus   = temporal.NewSearchAttributeKeyKeyword("IdvStatus")
	AttrUserID   = temporal.NewSearchAttributeKeyKeyword("IdvUserId")
)

// SearchAttributes lists the keys the worker registers.
var SearchAttributes = []temporal.SearchAttributeKey{AttrProvider, AttrStatus, AttrUserID, onboarding.AttrWaiting}

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
}

// VerificationWorkflow is one provider session: it collects the session's
// webhooks (signal SignalEvent), waits for the processed and decision
// milestones in any order, asks the provider's API when the decision is late,
// and brings the user's record up to date (docs/semantics.md).
//
// Read it as the list of steps it is; a listener goroutine (see session.listen)
// records every signal, and each step awaits a condition on that record.
func (v *Verification) VerificationWorkflow(ctx workflow.Context, in Input) (Result, error) {
	s := newSession(ctx, in, v.config(ctx, in))
	if err := workflow.SetQueryHandler(ctx, QueryState, s.state); err != nil {
		return Result{}, fmt.Errorf("set query handler: %w", err)
	}
	s.listen(ctx)
	// What came with the start is known before the first step: a decision
	// delivered with it is acted on at once, with no timer for a webhook
	// that is already here.
	s.receiveDelivered(ctx)
	if in.Carried == nil {
		s.setStatus(ctx, StatusWaiting)
	}
	// 0. A run that reopens its session first takes in what its runs that
	// ended before their end held, and when they received it.
	if err := s.takeEarlier(ctx); errors.Is(err, errHandOver) {
		return s.continueAsNew(ctx)
	}
	if s.failing != "" {
		// The previous run handed over while it wrote why the session
		// failed: write it, unless something newer came.
		return s.fail(ctx, errors.New(s.failing))
	}

	for {
		if !s.decided() {
			// 1. A decision: by webhook, or by polling once it is late.
			w, err := s.awaitDecision(ctx)
			switch {
			case errors.Is(err, errHandOver):
				return s.continueAsNew(ctx)
			case err != nil:
				return s.fail(ctx, err)
			case w == tooLong:
				return s.continueAsNew(ctx)
			case w == settled:
				continue // decided in an earlier run: nothing to wait for
			case w == timedOut:
				// None before IDV_SESSION_EXPIRY: the session expired.
				if err := s.expire(ctx); errors.Is(err, errHandOver) {
					return s.continueAsNew(ctx)
				} else if err != nil {
					return s.fail(ctx, err)
				}
				if more, err := s.settle(ctx); errors.Is(err, errHandOver) {
					return s.continueAsNew(ctx)
				} else if more {
					continue // it arrived with the expiry: apply it
				}
				return s.finish(ctx)
			}
			// 2. The processed milestone, for at most the grace period.
			s.awaitProcessed(ctx)
			// 3. The provider's details and the user's record.
			if err := s.applyDecision(ctx); errors.Is(err, errHandOver) {
				return s.continueAsNew(ctx)
			} else if err != nil {
				return s.fail(ctx, err)
			}
			// (The store hands each change it takes to the user's onboarding
			// workflow, which runs the team's steps: onboarding.go.)
			final := s.applied.Decision.Final()
			// 4. The older decisions the run received: the store takes
			// every decision a session gave, so it remembers each (R7).
			if err := s.writeOlder(ctx); errors.Is(err, errHandOver) {
				return s.continueAsNew(ctx)
			}
			if !final {
				continue // a person or the end user acts next; wait for the next decision
			}
		}
		// 5. Stay open for late changes; a quiet window ends the run, unless
		// something arrived with its end.
		switch s.awaitLateChanges(ctx) {
		case tooLong:
			return s.continueAsNew(ctx)
		case timedOut:
			if more, err := s.settle(ctx); errors.Is(err, errHandOver) {
				return s.continueAsNew(ctx)
			} else if more {
				continue
			}
			return s.finish(ctx)
		}
	}
}

// config is the worker's timings, stored in the run's history once so a
// replay uses the values the run started with; a continued run keeps its
// session's.
func (v *Verification) config(ctx workflow.Context, in Input) Config {
	var cfg Config
	if in.Carried != nil {
		cfg = in.Carried.Config
	} else if err := workflow.SideEffect(ctx, func(workflow.Context) any {
		c := v.Config
		c.Release, c.HandsOver = sessionRelease, len(c.Onboarding.Steps) > 0
		if c.UserIDs != nil {
			c.UserIDMode = c.UserIDs.Mode()
		}
		return c
	}).Get(&cfg); err != nil {
		// Cannot happen for a plain struct; fall back to the defaults.
		cfg = DefaultConfig()
	}
	// Not recorded: the form IdvUserId takes is this worker's setting, the
	// one its admin API queries by. A run that learns no user id in
	// another form writes the same commands under any setting.
	cfg.UserIDs = v.Config.UserIDs
	return cfg
}

// awaitDecision returns ready once a decision newer than the applied one is
// known, timedOut when the session expired without one, and an error when
// the provider's API refuses for good (R8).
func (s *session) awaitDecision(ctx workflow.Context) (wait, error) {
	if s.hasNewDecision() {
		return ready, nil
	}
	// Before a new run waits, it asks the store: a webhook that came after
	// the session's run closed (late, or redelivered) must not reopen a
	// decided session, wait for a decision it has, or poll for it. (A run
	// with a decision to write learns the same from the store's answer to
	// it, adopt, without asking.)
	if s.fresh && !s.asked {
		s.asked = true
		if s.askStore(ctx) {
			s.setStatus(ctx, s.applied.Decision)
			// A provider whose writes need its details: get them for the
			// older decisions the run writes before it closes.
			if s.hasOlder() {
				if err := s.fetchDetails(ctx); err != nil {
					s.logger.Warn("details not fetched; the older decisions this run received are not written", "error", err)
				}
			}
			return settled, nil
		}
	}
	now := workflow.Now(ctx)
	if s.pollFrom.IsZero() {
		s.pollFrom = now.Add(s.cfg.DecisionPollAfter)
		s.interval = s.cfg.PollInterval
	}
	// Webhooks first: providers usually decide well within the poll delay.
	if now.Before(s.pollFrom) {
		d := earliest(s.pollFrom, s.expiresAt).Sub(now)
		s.next(ctx, "await the decision webhook", d)
		if w := s.await(ctx, d, "decision webhook or poll delay", s.hasNewDecision); w != timedOut {
			return w, nil
		}
		s.count(ctx, "idv_sessions_polling", nil)
	}
	// Then ask the provider's API, backing off, until the session expires.
	for workflow.Now(ctx).Before(s.expiresAt) {
		if !workflow.Now(ctx).Before(s.nextPollAt) {
			if err := s.poll(ctx); isPermanent(err) {
				return timedOut, err
			} else if err != nil {
				s.logger.Warn("poll failed; polling again later", "error", err)
			}
			if s.hasNewDecision() {
				return ready, nil
			}
			s.nextPollAt = workflow.Now(ctx).Add(s.interval)
			s.interval = min(2*s.interval, s.cfg.PollMaxInterval)
		}
		d := earliest(s.nextPollAt, s.expiresAt).Sub(workflow.Now(ctx))
		if d <= 0 {
			break
		}
		s.next(ctx, "poll the provider for the decision", d)
		if w := s.await(ctx, d, "next poll of the provider", s.hasNewDecision); w != timedOut {
			return w, nil
		}
	}
	if s.hasNewDecision() {
		return ready, nil
	}
	return timedOut, nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// isPermanent reports whether err is a provider error that no retry fixes.
func isPermanent(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable()
}

// awaitProcessed waits, once per session and at most the grace period, for
// the processed milestone when the provider is expected to send it.
func (s *session) awaitProcessed(ctx workflow.Context) {
	if s.processed || s.graceUsed || !s.expectsProcessed() {
		return
	}
	s.graceUsed = true
	s.next(ctx, "await the processed event (grace)", s.cfg.ProcessedGrace)
	s.await(ctx, s.cfg.ProcessedGrace, "processed event grace", func() bool { return s.processed })
}

func (s *session) expectsProcessed() bool {
	return s.cfg.rules(s.in.Provider).AwaitsProcessed
}

// applyDecision fetches the provider's details and applies the newest known
// decision, with any screening results, to the user's record.
func (s *session) applyDecision(ctx workflow.Context) error {
	d := s.latest
	s.tried = d // until it is applied: what a failure would drop
	s.next(ctx, "update the user record", 0)
	if err := s.fetchDetails(ctx); err != nil {
		return err
	}
	out, err := s.updateUser(ctx, s.decisionUpdate(d))
	if err != nil {
		return err
	}
	s.adopt(d, out)
	s.tried = nil
	s.pollFrom, s.nextPollAt = time.Time{}, time.Time{} // the next wait starts afresh
	s.setStatus(ctx, s.applied.Decision)
	return s.applyScreenings(ctx)
}

// decisionUpdate is the change that applies decision d.
func (s *session) decisionUpdate(d *Event) activities.UserUpdate {
	return activities.UserUpdate{
		Kind: record.KindDecision, Status: string(d.Decision), ReasonCode: d.ReasonCode,
		DecidedAt: d.orderKey().At, ProviderTime: d.OccurredAt, EventID: d.ID,
	}
}

// sessionRelease is the behaviour new runs record with their config
// (Config.Release): a change's behaviour is versioned by the config the
// run recorded at its start, not by a marker of its own. Runs of 1.0
// recorded none (0): they do not ask the store before they wait, and
// write IdvUserId in the form their events came with. Runs of release 1
// do not read the session's earlier runs (takeEarlier).
const sessionRelease = 2

// askStore reports whether the store holds a final provider decision for
// the session, from an earlier run, and if so makes it the run's applied
// decision: the run then applies only what it received that is newer,
// writes what is older, and closes at once, since the late-event window
// was the earlier run's. A store that cannot answer leaves the run to wait
// as a new session's, as runs did before.
func (s *session) askStore(ctx workflow.Context) bool {
	if s.cfg.Release < 1 {
		return false
	}
	var a *activities.Activities
	var sd activities.SessionDecision
	opts := workflow.LocalActivityOptions{
		Summary: "ask the store for the session's decision", StartToCloseTimeout: s.cfg.activityTimeout(),
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	}
	err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, opts), a.HeldDecision, s.in.Provider, s.in.SessionID).Get(ctx, &sd)
	if err != nil {
		s.logger.Warn("the store's decision for the session not read; the run waits for one", "error", err)
		return false
	}
	if !record.Final(sd.Status) {
		return false
	}
	held := s.heldEvent(sd)
	s.applied = &held
	// What the run received that is the same as the store's decision stays
	// to be written: the store answers it from its log, and hands it over
	// then if its hand-over was lost (R7, R11).
	if s.latest == nil || held.orderKey().Compare(s.latest.orderKey()) >= 0 {
		s.latest = s.applied
	}
	if !s.hasNewDecision() {
		s.lateUntil = workflow.Now(ctx) // the window was the earlier run's
	}
	return true
}

// storeEventType is the Type of the store's decision as a run holds it.
const storeEventType = "store"

// heldEvent is the store's decision sd for the session, as the run holds
// a decision.
func (s *session) heldEvent(sd activities.SessionDecision) Event {
	return Event{
		ID:       "store/" + sd.Status + "/" + sd.ReasonCode + "/" + sd.At.UTC().Format(time.RFC3339Nano),
		Provider: s.in.Provider, SessionID: s.in.SessionID, Type: storeEventType, Kind: KindDecision,
		Decision: NormalizeStatus(sd.Status), ProviderStatus: sd.Status, ReasonCode: sd.ReasonCode,
		OccurredAt: sd.At, ReceivedAt: sd.At,
	}
}

// adopt makes the store's answer for applied decision d the run's view of
// its session (docs/semantics.md R7): d is ordered by the time the store
// holds for it (an untimed decision keeps its first receipt, in whatever
// run it comes again), and a greater decision the store holds for the
// session, applied by an earlier run, counts as applied here too. Answers
// recorded before the store said more change nothing.
func (s *session) adopt(d *Event, out activities.UpdateResult) {
	applied := *d
	if applied.OccurredAt.IsZero() && !out.At.IsZero() {
		applied.ReceivedAt = out.At
	}
	s.unwritten = slices.DeleteFunc(s.unwritten, func(e Event) bool { return e.ID == d.ID })
	defer func() { s.unwritten = slices.DeleteFunc(s.unwritten, s.sameAsApplied) }()
	if s.latest != nil && s.latest.ID == d.ID {
		s.latest = &applied
	}
	s.applied = &applied
	if sd := out.Session; sd.Status != "" {
		held := s.heldEvent(sd)
		if held.orderKey().Compare(applied.orderKey()) > 0 {
			// An earlier run applied it (and ran its steps): the session
			// waits for what is newer than that. A new run that meets a
			// final one so has no late-event window of its own: that was
			// the earlier run's.
			s.applied = &held
			s.decidedBefore = s.fresh && s.cfg.Release >= 1 && held.Decision.Final()
		}
	}
	if s.latest == nil || s.applied.orderKey().Compare(s.latest.orderKey()) > 0 {
		s.latest = s.applied
	}
	// d may be ordered earlier than this run thought: what the run has
	// not written yet may be newer than it now.
	for i := range s.unwritten {
		if e := s.unwritten[i]; e.orderKey().Compare(s.latest.orderKey()) > 0 {
			s.latest = &e
		}
	}
}

// awaitLateChanges keeps a decided session open for the late-event window,
// restarted by each change it applies. It returns ready when a newer
// decision arrived, timedOut when the window passed quietly.
func (s *session) awaitLateChanges(ctx workflow.Context) wait {
	for {
		if len(s.screenings) > 0 {
			switch err := s.applyScreenings(ctx); {
			case errors.Is(err, errHandOver):
				return tooLong // the next run writes what is left (R10)
			case err != nil:
				// The store refused it for good (an invalid change): drop
				// it, or the window would try it again without end.
				s.logger.Warn("screening not applied", "error", err)
				s.screenings = s.screenings[1:]
			}
			s.lateUntil = time.Time{}
		}
		if err := s.writeOlder(ctx); errors.Is(err, errHandOver) {
			return tooLong
		}
		if s.lateUntil.IsZero() {
			s.lateUntil = workflow.Now(ctx).Add(s.cfg.LateEventWindow)
			if s.decidedBefore {
				s.lateUntil, s.decidedBefore = workflow.Now(ctx), false
			}
		}
		d := s.lateUntil.Sub(workflow.Now(ctx))
		s.next(ctx, "absorb late events", d)
		// An older decision does not wake the window (runs recorded before
		// did not); it is written when the window wakes or closes.
		changed := func() bool { return s.hasNewDecision() || len(s.screenings) > 0 }
		switch s.await(ctx, d, "late-event window", changed) {
		case timedOut:
			s.next(ctx, "done", 0)
			return timedOut
		case tooLong:
			return tooLong
		}
		if s.hasNewDecision() {
			s.lateUntil = time.Time{}
			return ready
		}
	}
}

// hasOlder reports whether the run received a decision, not newer than the
// one it applied, that it has not written yet.
func (s *session) hasOlder() bool { return s.newestOlder() >= 0 }

// newestOlder is the index in unwritten of the newest decision not newer
// than the applied one, -1 when there is none.
func (s *session) newestOlder() int {
	i := -1
	if s.applied == nil {
		return i
	}
	for j, e := range s.unwritten {
		if e.orderKey().Compare(s.applied.orderKey()) <= 0 && (i < 0 || e.orderKey().Compare(s.unwritten[i].orderKey()) > 0) {
			i = j
		}
	}
	return i
}

// writeOlder writes every decision the run received that is not newer
// than the one it applied and was not written yet (R7: the store takes
// every decision a session gives, so a redelivery in a later run, even of
// one without a provider time, is ordered as it was the first time, and an
// older verdict still counts, R2). The store hands a write that changes the
// record to the user's onboarding; one that fails for good is logged and
// dropped.
func (s *session) writeOlder(ctx workflow.Context) error {
	if !s.hasOlder() || (s.cfg.rules(s.in.Provider).FetchesDetails && s.details == nil) {
		return nil
	}
	// The newest first: an older verdict reaches the record (and the app)
	// only if no newer decision the run holds supersedes it.
	for i := s.newestOlder(); i >= 0; i = s.newestOlder() {
		e := s.unwritten[i]
		s.unwritten = slices.Delete(s.unwritten, i, i+1)
		_, err := s.updateUser(ctx, s.decisionUpdate(&e))
		if errors.Is(err, errHandOver) {
			s.unwritten = append(s.unwritten, e)
			return err
		}
		if err != nil {
			s.logger.Warn("older decision not written", "error", err)
		}
	}
	return nil
}

// settle is what a run does right before it closes: it reads what was
// delivered and writes the older decisions it has not written. It reports
// whether something arrived that the run must act on instead of closing.
func (s *session) settle(ctx workflow.Context) (bool, error) {
	for {
		if s.drain(ctx); s.pending() {
			return true, nil
		}
		before := len(s.unwritten)
		if !s.hasOlder() {
			return false, nil
		}
		if err := s.writeOlder(ctx); err != nil || len(s.unwritten) == before {
			return false, err // nothing more it can write
		}
	}
}

// expire marks the user expired: the session ran out of time without a final
// decision. It is ordered after everything the session said, never after a
// decision another session made later (R4).
func (s *session) expire(ctx workflow.Context) error {
	if err := s.fetchDetails(ctx); err != nil {
		return err
	}
	if err := s.writeOlder(ctx); err != nil {
		return err
	}
	if _, err := s.updateUser(ctx, s.sessionEnd(StatusExpired, "no final decision before IDV_SESSION_EXPIRY")); err != nil {
		return err
	}
	s.setStatus(ctx, StatusExpired)
	if err := s.applyScreenings(ctx); err != nil {
		s.logger.Warn("screening not applied", "error", err)
	}
	s.next(ctx, "done", 0)
	return nil
}

// sessionEnd is idvflow's own ending of the session (R4). The store orders
// it from what it holds of the session (when it began, its greatest
// decision); DecidedAt is only what this run knows, for stores that do not.
func (s *session) sessionEnd(st Status, reason string) activities.UserUpdate {
	u := activities.UserUpdate{Kind: record.KindDecision, Status: string(st), Reason: reason, SessionEnd: true}
	if s.applied != nil {
		u.DecidedAt = s.applied.orderKey().At
	}
	return u
}

// finish ends the run with the status it leaves on the user.
func (s *session) finish(ctx workflow.Context) (Result, error) {
	s.finished(ctx)
	return s.result(), nil
}

// fail records on the user why the session could not finish, and ends the
// run with that reason so it shows as failed in the Web UI. No event
// Temporal delivered is dropped (R8): a decision newer than the one that
// failed, whether it came before the failure was seen, with it, or while
// the error was being written, makes the session continue as new and act
// on it instead of failing.
func (s *session) fail(ctx workflow.Context, cause error) (Result, error) {
	if s.drain(ctx) || s.newerThanTried() {
		s.failing = "" // the next run acts on what came, and fails again if it must
		return s.continueAsNew(ctx)
	}
	reason := cause.Error()
	var appErr *temporal.ApplicationError
	if errors.As(cause, &appErr) {
		reason = appErr.Message()
	}
	if len(reason) > record.MaxReasonText {
		reason = reason[:record.MaxReasonText]
	}
	s.reason = reason
	s.setStatus(ctx, StatusError)
	s.next(ctx, "failed: "+reason, 0)
	if err := s.writeOlder(ctx); errors.Is(err, errHandOver) {
		s.failing = reason
		return s.continueAsNew(ctx)
	}
	// The record must say why, so this update retries until it lands.
	if _, err := s.updateUser(ctx, s.sessionEnd(StatusError, reason)); err != nil {
		if errors.Is(err, errHandOver) {
			s.failing = reason // the next run writes it
			return s.continueAsNew(ctx)
		}
		s.finished(ctx)
		return s.result(), fmt.Errorf("record failure on user: %w", err)
	}
	s.failing = ""
	// What came while the error was written: screenings apply now; a
	// newer decision goes to a new run.
	for {
		if err := s.applyScreenings(ctx); err != nil {
			s.logger.Warn("screening not applied", "error", err)
			break
		}
		if s.drain(ctx); s.newerThanTried() {
			return s.continueAsNew(ctx)
		}
		if before := len(s.unwritten); s.hasOlder() {
			if err := s.writeOlder(ctx); errors.Is(err, errHandOver) {
				return s.continueAsNew(ctx) // the error is written: the next run goes on
			}
			if len(s.unwritten) < before {
				continue
			}
		}
		if len(s.screenings) == 0 {
			break
		}
	}
	s.finished(ctx)
	return s.result(), temporal.NewNonRetryableApplicationError(reason, "SessionFailed", cause)
}

// newerThanTried reports whether a decision newer than the applied one,
// and newer than the one whose application failed (if one did), waits.
func (s *session) newerThanTried() bool {
	if !s.hasNewDecision() {
		return false
	}
	return s.tried == nil || s.latest.orderKey().Compare(s.tried.orderKey()) > 0
}

func (s *session) result() Result {
	return Result{UserID: s.userID, Status: s.status, Reason: s.reason}
}

// fetchDetails reads the provider's details once per run, for providers
// whose webhooks lack the app's user id (Rules.FetchesDetails).
func (s *session) fetchDetails(ctx workflow.Context) error {
	if !s.cfg.rules(s.in.Provider).FetchesDetails || s.details != nil {
		return nil
	}
	var a *activities.Activities
	var d activities.Details
	ref := s.ref()
	if err := s.get(ctx, workflow.ExecuteActivity(s.withRetries(ctx, "fetch the "+s.in.Provider+" details"), a.FetchDetails, ref), &d); err != nil {
		return err
	}
	s.details = &d
	s.learnUserID(ctx, d.UserID, d.UserIDSource, d.UserRef)
	return nil
}

// poll asks the provider's API for the decision and records a found one as
// if it had come by webhook, so repeats of it dedupe the same way.
func (s *session) poll(ctx workflow.Context) error {
	var a *activities.Activities
	var r activities.PollResult
	ref := s.ref()
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
	s.pollsThisRun++
	if !r.Found {
		return nil
	}
	s.record(ctx, PollEvent(s.in.Provider, s.in.SessionID, "poll", r, workflow.Now(ctx)))
	return nil
}

// PollEvent is the event a decision found by asking the provider's API
// becomes, by the run's own poll or an operator's resync (typ says which).
// It is named by what the provider said, so the same answer found again,
// by either, is a repeat (R7).
func PollEvent(provider, sessionID, typ string, r activities.PollResult, receivedAt time.Time) Event {
	providerTime := "-"
	if !r.DecidedAt.IsZero() {
		providerTime = r.DecidedAt.UTC().Format(time.RFC3339Nano)
	}
	return Event{
		ID:             "poll/" + r.ProviderStatus + "/" + r.ReasonCode + "/" + providerTime,
		Provider:       provider,
		SessionID:      sessionID,
		Type:           typ,
		Kind:           KindDecision,
		Decision:       NormalizeStatus(r.ProviderStatus),
		ProviderStatus: r.ProviderStatus,
		ReasonCode:     r.ReasonCode,
		OccurredAt:     r.DecidedAt,
		ReceivedAt:     receivedAt,
		UserID:         r.UserID,
		UserIDSource:   r.UserIDSource,
		UserRef:        r.UserRef,
		AttemptID:      r.AttemptID,
	}
}

// applyScreenings applies screening results received since the last call.
func (s *session) applyScreenings(ctx workflow.Context) error {
	for len(s.screenings) > 0 {
		sc := s.screenings[0]
		u := activities.UserUpdate{Kind: record.KindScreening, Status: sc.ProviderStatus,
			DecidedAt: record.OrderTime(sc.OccurredAt, sc.ReceivedAt), ProviderTime: sc.OccurredAt, EventID: sc.ID}
		if _, err := s.updateUser(ctx, u); err != nil {
			return err
		}
		s.screenings = s.screenings[1:]
	}
	return nil
}

// updateUser applies one change to the user's record; the store makes a
// repeat a no-op, so Temporal may retry it freely. It returns what the
// store holds for the change.
func (s *session) updateUser(ctx workflow.Context, u activities.UserUpdate) (activities.UpdateResult, error) {
	u.UserID, u.UserIDSource = s.resolvedUserID()
	u.Provider, u.SessionID, u.SessionBegan, u.HandOver = s.in.Provider, s.in.SessionID, s.began, s.cfg.HandsOver
	if u.SessionBegan.IsZero() || s.startedAt.Before(u.SessionBegan) {
		u.SessionBegan = s.startedAt
	}
	var a *activities.Activities
	var out activities.UpdateResult
	// The store's write hands each change it takes (a final decision, the
	// expiry) to the user's onboarding (R11), which runs the team's steps.
	f := workflow.ExecuteActivity(s.withRetries(ctx, "user record: "+u.Kind+" "+u.Status), a.ApplyAndHandOver, u)
	if err := s.get(ctx, f, &out); err != nil {
		return out, err
	}
	s.logger.Info("user record updated", "kind", u.Kind, "status", u.Status, "outcome", out.Outcome)
	return out, nil
}

// errHandOver ends a step whose activity is still running because the run
// must continue as new (R10): the next run takes the step again, and the
// store answers a repeated change from its log.
var errHandOver = errors.New("the run hands over to a new run")

// get waits for an activity's result. A run that grows too long while it
// waits (a store outage while webhooks keep coming) hands over long before
// Temporal's limits instead of waiting it out.
func (s *session) get(ctx workflow.Context, f workflow.Future, v any) error {
	_ = workflow.Await(ctx, func() bool { return f.IsReady() || s.tooLong(ctx) })
	if !f.IsReady() {
		return errHandOver
	}
	return f.Get(ctx, v)
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
			NonRetryableErrorTypes: []string{activities.ErrTypeProviderAPI, activities.ErrTypeInvalidChange},
		},
	})
}

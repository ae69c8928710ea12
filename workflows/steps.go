package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/record"
)

// afterFinalDecision runs the onboarding steps that follow a final decision,
// once the user's record holds it, in order.
//
// ── Add a step here ──────────────────────────────────────────────────────
// One line per step: a change ID that is new and never reused, and the step.
// Sessions that started before the line existed replay without it; new ones
// run it. See docs/extending.md.
//
// It returns errHandOver when the run must continue as new while a step
// runs (R10: an app that is down while webhooks keep coming); the next run
// runs the steps again.
func (s *session) afterFinalDecision(ctx workflow.Context) error {
	s.stepsPending = false
	if s.cfg.Handoff {
		return nil // the user's onboarding runs them (UserUpdate.Onboard)
	}
	if s.cfg.Notify == nil || *s.cfg.Notify { // no IDV_NOTIFY_URL: nothing to run
		if err := s.step(ctx, "notify-app", s.notifyApp); err != nil {
			return err
		}
	}
	return nil
}

// step runs one onboarding step behind workflow.GetVersion, so adding it does
// not change what sessions already in flight replay. A step that fails for
// good is logged and recorded; it does not undo the decision.
func (s *session) step(ctx workflow.Context, changeID string, run func(workflow.Context) error) error {
	if !s.changed(ctx, changeID) && !s.ignoreVersions {
		return nil // the session started before this step existed
	}
	s.next(ctx, changeID, 0)
	err := run(ctx)
	switch {
	case errors.Is(err, errHandOver):
		s.stepsPending = true
		return err
	case err != nil:
		s.logger.Warn("onboarding step failed", "step", changeID, "error", err)
		s.stepFailures = append(s.stepFailures, changeID)
	}
	return nil
}

// notifyApp posts the final decision to the team's app (IDV_NOTIFY_URL), as
// a Standard Webhooks message. Its webhook-id and decided_at are the
// store's change id and order time (R7), so a retry, or a later run that
// meets the same decision, sends the same id and time, and the app can drop
// the repeat.
func (s *session) notifyApp(ctx workflow.Context) error {
	if s.lastOutcome == record.Stale {
		return nil // the user's record holds a newer decision than this one
	}
	userID, _ := s.resolvedUserID()
	n := activities.Notification{
		WebhookID: "msg_" + s.changeID,
		UserID:    userID, Provider: s.in.Provider, SessionID: s.in.SessionID,
		Status: string(s.lastStatus), ReasonCode: s.lastCode, DecidedAt: s.decidedAt, Kind: activities.NotifySessionOutcome,
	}
	if record.Verdict(n.Status) {
		n.Kind = activities.NotifyVerdict
	}
	if s.changeID == "" {
		// A store answer recorded before it named changes: as it was sent.
		n.WebhookID, n.Kind, n.Status, n.ReasonCode = "msg_"+s.decisionKey(), "", string(s.status), ""
		if s.applied != nil {
			n.ReasonCode = s.applied.ReasonCode
		}
	}
	var a *activities.Activities
	var r activities.NotifyResult
	return s.get(ctx, workflow.ExecuteActivity(s.withRetries(ctx, "notify the app: "+n.Status), a.NotifyApp, n), &r)
}

// decisionKey identifies the decision last applied for runs whose store
// answers named no change: the same session, status and decision time give
// the same key.
func (s *session) decisionKey() string {
	sum := sha256.Sum256([]byte(s.in.Provider + "|" + s.in.SessionID + "|" + string(s.status) + "|" +
		s.decidedAt.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:16])
}

// Package activities holds every side effect of a verification session: the
// provider API calls and the update of the user record. The workflow calls
// them through Temporal, which retries them; each is safe to run twice.
package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/activities/notify"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/internal/userref"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/record"
)

// ErrTypeProviderAPI is the application error type of a provider API call
// that retrying cannot fix (bad credentials, unknown session).
const ErrTypeProviderAPI = "ProviderAPIError"

// ErrTypeNotify is the application error type of a notification the app
// refused for good (4xx other than 408, 409, 429).
const ErrTypeNotify = "NotifyRefused"

// Activities is registered with the worker; the workflow refers to its
// methods. Each field is one external system.
type Activities struct {
	// Providers are the provider APIs this worker can call, by provider
	// name (the worker builds them from the provider registry).
	Providers map[string]ProviderAPI
	Users     *userstore.Store
	// Notify is nil when IDV_NOTIFY_URL is unset: NotifyApp then skips.
	Notify *notify.Client
	// UserRef says how user ids the APIs answer appear in visibility.
	UserRef userref.Ref
	// Onboarding is nil when the worker has no onboarding step (no
	// IDV_NOTIFY_URL, no review gate): no change is handed over, and no
	// onboarding run starts.
	Onboarding Onboarder
	// OpenOnboarding signals a change to a user's open onboarding run
	// without starting one (onboarding.Starter.Signal): what a worker
	// without the plan does with a change of a run recorded with one.
	OpenOnboarding OpenOnboarder
}

// OpenOnboarder signals an applied change to the open run of the
// onboarding of the user whose reference is userRef, if one is open.
type OpenOnboarder interface {
	Signal(ctx context.Context, userRef string, c onboarding.Change) (bool, error)
}

// Onboarder hands an applied change to the onboarding of the user whose
// reference is userRef (onboarding.Starter).
type Onboarder interface {
	Hand(ctx context.Context, userRef string, c onboarding.Change) error
}

// ProviderAPI is one provider's API as the activities call it. Each
// provider package implements it and maps its answers to these
// provider-neutral results; the activities add what every provider shares
// (error classes, bounds, the clock-skew rule).
type ProviderAPI interface {
	// Poll returns the session's latest decision; Found is false while the
	// provider has not decided.
	Poll(ctx context.Context, ref SessionRef) (PollResult, error)
	// Details returns what the API adds to the webhooks. Only providers
	// whose Rules say FetchesDetails are asked.
	Details(ctx context.Context, ref SessionRef) (Details, error)
}

// SessionRef names one provider session.
type SessionRef struct {
	Provider  string `json:"provider"`
	SessionID string `json:"session_id"`
	// Integration is the provider account whose credentials the session's
	// webhooks carried ("" or "default": the single-integration variables).
	Integration string `json:"integration,omitempty"`
}

// Details is what the provider's API adds to the webhooks: the app's user id
// and the provider's current status, nothing personal.
type Details struct {
	UserID         string    `json:"user_id,omitempty"`
	UserIDSource   string    `json:"user_id_source,omitempty"`
	UserRef        string    `json:"user_ref,omitempty"` // see workflows.Event.UserRef
	ProviderStatus string    `json:"provider_status,omitempty"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// FetchDetails reads what the provider's API knows of a session beyond its
// webhooks (for instance the record that holds the app's user id).
func (a *Activities) FetchDetails(ctx context.Context, ref SessionRef) (Details, error) {
	api, err := a.provider(ref)
	if err != nil {
		return Details{}, err
	}
	d, err := api.Details(ctx, ref)
	if err != nil {
		return Details{}, classify(fmt.Errorf("fetch %s details %s: %w", ref.Provider, ref.SessionID, err))
	}
	d.UserRef = a.UserRef.Of(d.UserID)
	return d, checkAnswer(ref.Provider, d.UserID, d.UserIDSource, d.ProviderStatus, "", "")
}

// provider is the API of ref's provider; one this worker does not know
// ends the call for good. (A known provider without credentials answers
// NotConfigured itself, retried on any worker.)
func (a *Activities) provider(ref SessionRef) (ProviderAPI, error) {
	api, ok := a.Providers[ref.Provider]
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("unknown provider %q", ref.Provider), "UnsupportedProvider", nil)
	}
	return api, nil
}

// checkAnswer refuses a provider answer that idvflow cannot carry
// (docs/semantics.md R9): it ends the session with the reason, as any
// answer that retrying cannot change.
func checkAnswer(provider, userID, userIDSource, status, reasonCode, attemptID string) error {
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"user id", userID, record.MaxUserID}, {"user id source", userIDSource, record.MaxWord},
		{"status", status, record.MaxWord}, {"reason code", reasonCode, record.MaxWord},
		{"attempt id", attemptID, record.MaxAttemptID},
	} {
		if err := record.CheckString(f.name, f.value, f.max); err != nil {
			return temporal.NewNonRetryableApplicationError(
				provider+" API answered with a value idvflow cannot store: "+err.Error(), ErrTypeProviderAPI, nil)
		}
	}
	return nil
}

// PollResult is a decision found by asking the provider's API.
type PollResult struct {
	// Found is false while the provider has not decided.
	Found          bool      `json:"found"`
	ProviderStatus string    `json:"provider_status,omitempty"`
	ReasonCode     string    `json:"reason_code,omitempty"`
	DecidedAt      time.Time `json:"decided_at"`
	AttemptID      string    `json:"attempt_id,omitempty"`
	UserID         string    `json:"user_id,omitempty"`
	UserIDSource   string    `json:"user_id_source,omitempty"`
	UserRef        string    `json:"user_ref,omitempty"` // see workflows.Event.UserRef
}

// ifNotAhead treats an answer dated more than record.MaxClockSkew ahead as no
// answer yet (docs/semantics.md R5): a later poll takes it.
func (r PollResult) ifNotAhead() PollResult {
	if record.CheckFuture("decision time", r.DecidedAt, time.Now()) != nil {
		return PollResult{}
	}
	return r
}

func (r PollResult) check(provider string) error {
	if err := checkAnswer(provider, r.UserID, r.UserIDSource, r.ProviderStatus, r.ReasonCode, r.AttemptID); err != nil {
		return err
	}
	if err := record.CheckTime("decision time", r.DecidedAt); err != nil {
		return temporal.NewNonRetryableApplicationError(provider+" API answered with "+err.Error(), ErrTypeProviderAPI, nil)
	}
	return nil
}

// PollDecision asks the provider whether the session has a decision, for
// sessions whose decision webhook is late or lost.
func (a *Activities) PollDecision(ctx context.Context, ref SessionRef) (PollResult, error) {
	api, err := a.provider(ref)
	if err != nil {
		return PollResult{}, err
	}
	r, err := api.Poll(ctx, ref)
	if err != nil {
		return PollResult{}, classify(fmt.Errorf("poll %s decision %s: %w", ref.Provider, ref.SessionID, err))
	}
	if !r.Found {
		return PollResult{}, nil
	}
	r.DecidedAt = r.DecidedAt.UTC()
	r.UserRef = a.UserRef.Of(r.UserID)
	return r.ifNotAhead(), r.check(ref.Provider)
}

// UserUpdate is one change to a user's record.
type UserUpdate struct {
	UserID       string `json:"user_id"`
	UserIDSource string `json:"user_id_source"`
	Provider     string `json:"provider"`
	SessionID    string `json:"session_id"`
	Kind         string `json:"kind"` // record.KindDecision or KindScreening
	Status       string `json:"status"`
	// DecidedAt is the order time (record.OrderTime); ProviderTime the
	// provider's own time, zero when it gave none.
	DecidedAt    time.Time `json:"decided_at"`
	ProviderTime time.Time `json:"provider_time,omitzero"`
	// EventID names a change without ProviderTime (docs/semantics.md R7).
	EventID string `json:"event_id,omitempty"`
	// SessionEnd marks idvflow's own ending of the session (expired, error);
	// SessionBegan is when the run believes its session began.
	SessionEnd   bool      `json:"session_end,omitempty"`
	SessionBegan time.Time `json:"session_began,omitzero"`
	ReasonCode   string    `json:"reason_code,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	// HandOver says the run was recorded by a worker with an onboarding
	// plan (workflows.Config.HandsOver): a worker without one leaves the
	// change owed to the user's onboarding instead of handing nothing.
	HandOver bool `json:"hand_over,omitempty"`
}

// ErrTypeInvalidChange is the application error type of a change the store
// can never hold (docs/semantics.md R9); retrying cannot help.
const ErrTypeInvalidChange = "InvalidChange"

// UpdateResult is what the store did with a change and what it holds for
// it (userstore.Result): the workflow adopts it, so every run of a session
// orders and names the change the way the store first took it.
type UpdateResult struct {
	Outcome record.Outcome `json:"outcome"`
	// ChangeID names the change in every run (a digest, never the user id).
	ChangeID string `json:"change_id,omitempty"`
	// At is the order time the store holds for the change.
	At time.Time `json:"at,omitzero"`
	// Session is the session's greatest provider decision the store holds.
	Session SessionDecision `json:"session,omitzero"`
}

// SessionDecision is a session's greatest provider decision in the store.
type SessionDecision struct {
	At         time.Time `json:"at,omitzero"`
	Status     string    `json:"status,omitempty"`
	ReasonCode string    `json:"reason_code,omitempty"`
}

// UnmarshalJSON reads a result, or the bare outcome that runs recorded
// before the store said more (their histories replay with it).
func (r *UpdateResult) UnmarshalJSON(b []byte) error {
	var outcome record.Outcome
	if err := json.Unmarshal(b, &outcome); err == nil {
		*r = UpdateResult{Outcome: outcome}
		return nil
	}
	type plain UpdateResult // without this method
	return json.Unmarshal(b, (*plain)(r))
}

// ApplyAndHandOver applies u to the user's record, once, never replacing a
// newer decision; it reports "applied", "duplicate" or "stale", and what
// the store holds for the change. A final decision (or expiry) the record
// took is handed to the user's onboarding (R11), after the commit, once: a
// redelivery in a later run starts no steps.
func (a *Activities) ApplyAndHandOver(ctx context.Context, u UserUpdate) (UpdateResult, error) {
	res, err := a.apply(ctx, u)
	if err != nil {
		return UpdateResult{}, err
	}
	if err := a.handOver(ctx, u, res); err != nil {
		return UpdateResult{}, err // retried: the store answers the repeat from its log
	}
	return resultOf(res), nil
}

func (a *Activities) apply(ctx context.Context, u UserUpdate) (userstore.Result, error) {
	res, err := a.Users.Apply(ctx, userstore.Change{
		UserID:       u.UserID,
		UserIDSource: u.UserIDSource,
		Kind:         u.Kind,
		Status:       u.Status,
		Provider:     u.Provider,
		SessionID:    u.SessionID,
		ProviderTime: u.ProviderTime,
		EventID:      u.EventID,
		At:           u.DecidedAt,
		SessionEnd:   u.SessionEnd,
		SessionBegan: u.SessionBegan,
		ReasonCode:   u.ReasonCode,
		Reason:       u.Reason,
	})
	if errors.Is(err, userstore.ErrInvalid) {
		return res, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidChange, err)
	}
	if err != nil {
		// Database errors are transient from here: Temporal retries.
		return res, fmt.Errorf("update user: %w", err)
	}
	return res, nil
}

func resultOf(res userstore.Result) UpdateResult {
	return UpdateResult{
		Outcome: res.Outcome, ChangeID: res.ChangeID, At: res.At,
		Session: SessionDecision{At: res.Session.At, Status: res.Session.Status, ReasonCode: res.Session.ReasonCode},
	}
}

// takesSteps reports whether the onboarding steps follow change u: a
// final decision (or a session's expiry) the record took, applied now or
// by an earlier attempt (a duplicate), never a stale one.
func takesSteps(u UserUpdate, res userstore.Result) bool {
	return u.Kind == record.KindDecision && record.Final(u.Status) &&
		(res.Outcome == record.Applied || res.Outcome == record.Duplicate)
}

// handOver hands a change that takes steps to the user's onboarding,
// once: the store remembers each change handed over, so a redelivery
// weeks later starts no steps, and the onboarding takes a change once
// (TakeChange), so a hand-over repeated after its first attempt's answer
// was lost runs no step twice.
func (a *Activities) handOver(ctx context.Context, u UserUpdate, res userstore.Result) error {
	if (a.Onboarding == nil && !u.HandOver) || !takesSteps(u, res) {
		return nil
	}
	handed, err := a.Users.Handed(ctx, res.ChangeID)
	if err != nil || handed {
		return err
	}
	c := onboarding.Change{
		ID: res.ChangeID, UserID: u.UserID, Provider: u.Provider, SessionID: u.SessionID,
		Status: u.Status, Reason: u.ReasonCode, At: res.At, Verdict: record.Verdict(u.Status),
		Rank: int(record.RankOf(u.Status, u.SessionEnd)),
	}
	// Owed before the signal: a run of the onboarding that starts after
	// the run this signal reaches ended finds the change in the store.
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("hand change %s over: %w", c.ID, err)
	}
	if err := a.Users.Owe(ctx, c.ID, c.UserID, c.SortKey(), b, time.Now()); err != nil {
		return err
	}
	if a.Onboarding == nil {
		// A worker without the plan, writing for a run whose worker had
		// one: it must not start the onboarding (its first task would
		// wait for a worker with the plan) nor hold back the record. It
		// signals an open run, which orders the change among what it
		// holds; with none open, the change waits in the store for the
		// onboarding's next run (or idvctl onboarding retry).
		warn(ctx, "change owed to the onboarding by a worker without its plan (set IDV_NOTIFY_URL, IDV_REVIEW_STATUSES alike on every worker)",
			"change", c.ID)
		if a.OpenOnboarding == nil {
			return nil
		}
		// Handed once a run took it, as below: a redelivery then hands
		// nothing again (a run of 1.0, which never finishes a change, would
		// otherwise meet it twice).
		if took, err := a.OpenOnboarding.Signal(ctx, a.UserRef.Value(u.UserID), c); err != nil || !took {
			return err
		}
		return a.Users.MarkHanded(ctx, res.ChangeID, time.Now())
	}
	if err := a.Onboarding.Hand(ctx, a.UserRef.Value(u.UserID), c); err != nil {
		return err
	}
	return a.Users.MarkHanded(ctx, res.ChangeID, time.Now())
}

// warn logs to the activity's logger; called outside an activity (a
// test, the schedules' harness), it logs nothing.
func warn(ctx context.Context, msg string, kv ...any) {
	if activity.IsActivity(ctx) {
		activity.GetLogger(ctx).Warn(msg, kv...)
	}
}

// HeldDecision is the greatest provider decision the store holds for a
// provider's session, in any run: a run that starts for a session already
// decided applies what it received and closes, instead of waiting.
func (a *Activities) HeldDecision(ctx context.Context, provider, sessionID string) (SessionDecision, error) {
	sd, err := a.Users.SessionDecision(ctx, provider, sessionID)
	if err != nil {
		return SessionDecision{}, err
	}
	return SessionDecision{At: sd.At, Status: sd.Status, ReasonCode: sd.ReasonCode}, nil
}

// TakeChange records that the calling onboarding takes the change named
// changeID for its steps; false means its steps must not run (they ran to
// the end before: the same change handed over twice). The taker is the
// onboarding's workflow id, which every run of it keeps (a continued, reset
// or retried run finishes what an earlier one began), never a run id.
// TakeChange is the take of runs of 1.0 and 1.1; TakeChangeToFinish that
// of the runs that read what the store owes.
func (a *Activities) TakeChange(ctx context.Context, changeID string) (bool, error) {
	run := activity.GetInfo(ctx).WorkflowExecution
	return TakeFor(ctx, a.Users, changeID, run.ID, run.RunID, false)
}

// TakeChangeToFinish is TakeChange for a run that records the change's
// finish (userstore.Store.TakeToFinish): the change stays owed to the
// onboarding until then.
func (a *Activities) TakeChangeToFinish(ctx context.Context, changeID string) (bool, error) {
	run := activity.GetInfo(ctx).WorkflowExecution
	return TakeFor(ctx, a.Users, changeID, run.ID, run.RunID, true)
}

// TakeFor is TakeChange (or, with toFinish, TakeChangeToFinish) for run
// runID of the onboarding workflowID (the generated schedules name runs,
// which their test environment cannot).
func TakeFor(ctx context.Context, users *userstore.Store, changeID, workflowID, runID string, toFinish bool) (bool, error) {
	if toFinish {
		return users.TakeToFinish(ctx, changeID, taker(workflowID, runID), time.Now())
	}
	return users.Take(ctx, changeID, taker(workflowID, runID), time.Now())
}

// taker is whom the store keeps a take under: the onboarding, which every
// run of it keeps (continued as new, reset, retried), never one run.
func taker(workflowID, _ string) string { return workflowID }

// Owed is what the store still owes a user's onboarding: the hand-overs
// whose steps have not all run, oldest first.
type Owed struct {
	Changes []onboarding.Change `json:"changes,omitempty"`
	// More says the read stopped at its bounds (maxOwed, maxOwedBytes):
	// the run reads again once it has run these.
	More bool `json:"more,omitempty"`
}

// The bounds of one read of what the store owes an onboarding: the
// answer is a local activity's marker, under Temporal's 2 MiB payload
// limit with room to spare.
const (
	maxOwed      = 500
	maxOwedBytes = 256 << 10
)

// OwedChanges reads what the store owes the onboarding of user userID
// (Users.Owe): every new run of it takes that in before its first step,
// so what a run held when it was terminated is run by the next one.
func (a *Activities) OwedChanges(ctx context.Context, userID string) (Owed, error) {
	raw, more, err := a.Users.Owed(ctx, userID, maxOwed, maxOwedBytes)
	if err != nil {
		return Owed{}, err
	}
	out := Owed{More: more}
	for _, b := range raw {
		var c onboarding.Change
		if err := json.Unmarshal(b, &c); err != nil {
			// Written by Owe from the same type: a row no run can read is
			// left out rather than stop every run of the user.
			warn(ctx, "owed change unreadable", "error", err)
			continue
		}
		out.Changes = append(out.Changes, c)
	}
	return out, nil
}

// ErrNoPlan is HandOwed's answer on a worker without an onboarding plan.
var ErrNoPlan = errors.New("this worker has no onboarding plan (IDV_NOTIFY_URL, IDV_REVIEW_STATUSES): ask a worker that has one")

// HandOwed hands again, to the onboarding of user userID, what the store
// owes it (the record's oldest first, one read's worth: a new run it
// starts reads the rest once it ran those; past 500, an open run that read
// before takes the rest at a later retry): an operator's retry of an onboarding whose run was
// terminated and that no new hand-over restarts. It reports how many it
// handed; each reaches the open run, or starts one, which drops a change
// it has and takes one whose steps ran as done before.
func (a *Activities) HandOwed(ctx context.Context, userID string) (int, error) {
	if a.Onboarding == nil {
		return 0, ErrNoPlan
	}
	owed, err := a.OwedChanges(ctx, userID)
	if err != nil {
		return 0, err
	}
	for n, c := range owed.Changes {
		if err := a.Onboarding.Hand(ctx, a.UserRef.Value(userID), c); err != nil {
			return n, err
		}
	}
	return len(owed.Changes), nil
}

// Taken is TakeAndReadOwed's answer: the take's, and what the store owes.
type Taken struct {
	First bool `json:"first"`
	Owed  Owed `json:"owed"`
}

// TakeAndReadOwed is TakeChangeToFinish and OwedChanges in one call: a new run of
// a user's onboarding takes its first change and reads what the store
// owes the onboarding at one cost.
func (a *Activities) TakeAndReadOwed(ctx context.Context, changeID, userID string) (Taken, error) {
	first, err := a.TakeChangeToFinish(ctx, changeID)
	if err != nil {
		return Taken{}, err
	}
	owed, err := a.OwedChanges(ctx, userID)
	if err != nil {
		return Taken{}, err
	}
	return Taken{First: first, Owed: owed}, nil
}

// FinishChange records that every step of the change named changeID ran:
// no run of the onboarding takes it again.
func (a *Activities) FinishChange(ctx context.Context, changeID string) error {
	return a.Users.FinishTake(ctx, changeID, time.Now())
}

// Notification is a final decision to post to the team's app.
type Notification struct {
	// WebhookID is the same on every attempt, so the app can drop repeats.
	WebhookID  string    `json:"webhook_id"`
	UserID     string    `json:"user_id"`
	Provider   string    `json:"provider"`
	SessionID  string    `json:"session_id"`
	Status     string    `json:"status"`
	DecidedAt  time.Time `json:"decided_at"`
	ReasonCode string    `json:"reason_code,omitempty"`
	// Kind says what Status is (docs/semantics.md R1): "verdict" (approved,
	// declined: a verdict on the person) or "session_outcome" (how one
	// session ended). Runs recorded before it send none.
	Kind string `json:"kind,omitempty"`
}

// Kinds of notification.
const (
	NotifyVerdict        = "verdict"
	NotifySessionOutcome = "session_outcome"
)

// NotifyResult says whether the notification went out.
type NotifyResult struct {
	// Sent is true once the app took the notification.
	Sent bool `json:"sent"`
}

// NotificationType is the "type" of idvflow's notifications.
const NotificationType = "verification.decided"

// NotifyApp posts n to IDV_NOTIFY_URL as a Standard Webhooks message. The
// body depends only on n, so every retry sends the same bytes.
func (a *Activities) NotifyApp(ctx context.Context, n Notification) (NotifyResult, error) {
	if a.Notify == nil {
		// A worker without IDV_NOTIFY_URL never takes the step as done: the
		// task goes back to the queue for a worker that can post it.
		return NotifyResult{}, NotConfigured("the app's notification", "IDV_NOTIFY_URL and IDV_NOTIFY_SECRET")
	}
	body, err := json.Marshal(struct {
		Type      string       `json:"type"`
		Timestamp time.Time    `json:"timestamp"`
		Data      Notification `json:"data"`
	}{NotificationType, n.DecidedAt.UTC(), n})
	if err != nil {
		return NotifyResult{}, fmt.Errorf("encode notification: %w", err)
	}
	if err := a.Notify.Send(ctx, n.WebhookID, body); err != nil {
		var apiErr *httpapi.APIError
		if errors.As(err, &apiErr) && !apiErr.Retryable {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNotify, err)
		}
		return NotifyResult{}, err
	}
	return NotifyResult{Sent: true}, nil
}

// classify turns a permanent provider error into a non-retryable
// application error, so Temporal stops retrying and the workflow can record
// the reason; anything else stays retryable.
func classify(err error) error {
	// An error the provider package already classified (NotConfigured)
	// goes out as it is: Temporal reads only the outermost error's type.
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr
	}
	var apiErr *httpapi.APIError
	if errors.As(err, &apiErr) && !apiErr.Retryable {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeProviderAPI, err)
	}
	return err
}

// ErrTypeNotConfigured is the application error type of an activity that
// ran on a worker without the provider's credentials. It is retried, on
// any worker, until one that has them takes it: a worker's configuration
// never ends a session.
const ErrTypeNotConfigured = "NotConfigured"

// NotConfigured is the error of a provider API call on a worker without
// the credentials it needs; vars names the variables to set.
func NotConfigured(provider, vars string) error {
	// Come back soon rather than after an ever longer backoff: the next
	// attempt may well land on a worker that has the credentials.
	return temporal.NewApplicationErrorWithOptions(provider+" API is not configured on this worker: set "+vars,
		ErrTypeNotConfigured, temporal.ApplicationErrorOptions{NextRetryDelay: notConfiguredRetry})
}

// notConfiguredRetry is how soon an activity that met an unconfigured
// worker is tried again.
const notConfiguredRetry = 2 * time.Second

// Package workflows holds the per-session verification workflow and the
// contract the receiver uses to reach it: the signal name, the normalised
// event type and the workflow ID scheme.
//
// Workflow code here is deterministic: it does no I/O and reads no clock but
// workflow.Now. Every side effect is an activity in package activities.
package workflows

import (
	"fmt"
	"time"

	"github.com/idvflow/idvflow/record"
)

// SignalEvent is the name of the signal that carries one normalised webhook
// into a session's workflow.
const SignalEvent = "idv-event"

// QueryState is the name of the query handler that returns a SessionState.
const QueryState = "state"

// WorkflowName is the registered name of VerificationWorkflow.
const WorkflowName = "VerificationWorkflow"

// WorkflowID is the ID of the one workflow that collects every webhook of a
// provider's verification session: "<provider>:<session id>".
func WorkflowID(provider, sessionID string) string {
	return provider + ":" + sessionID
}

// Kind says what an event means for the session, independent of provider.
type Kind string

const (
	// Each provider package's Parse says which of its webhooks is which
	// kind (docs/providers.md lists them).

	// KindProcessed: the provider finished processing the end user's data.
	KindProcessed Kind = "processed"
	// KindDecision: the provider decided.
	KindDecision Kind = "decision"
	// KindProgress: the end user moved on in the flow.
	KindProgress Kind = "progress"
	// KindScreening: a watchlist (AML/PEP) screening result.
	KindScreening Kind = "screening"
	// KindOther: authentic, recorded, but without effect on the user.
	KindOther Kind = "other"
)

// Status is a provider decision normalised to one vocabulary.
type Status string

const (
	StatusApproved              Status = "approved"
	StatusDeclined              Status = "declined"
	StatusResubmissionRequested Status = "resubmission_requested"
	StatusReview                Status = "review"
	StatusExpired               Status = "expired"
	StatusAbandoned             Status = "abandoned"
	StatusPending               Status = "pending"
)

// Final reports whether the decision ends the session. Anything not known to
// be final (including values a provider adds later) keeps the session open.
func (s Status) Final() bool { return record.Final(string(s)) }

// Known reports whether s is one of the statuses above.
func (s Status) Known() bool {
	switch s {
	case StatusApproved, StatusDeclined, StatusResubmissionRequested, StatusReview,
		StatusExpired, StatusAbandoned, StatusPending:
		return true
	}
	return false
}

// Event is one webhook (or one poll result), normalised. It carries only what
// the workflow needs to decide; never names, documents or addresses.
type Event struct {
	// ID is the provider's own identity of the event; the workflow ignores an
	// ID it has seen before, so at-least-once delivery applies once.
	ID string `json:"id"`
	// Provider and SessionID locate the workflow (see WorkflowID).
	Provider  string `json:"provider"`
	SessionID string `json:"session_id"`
	// Integration is the provider account whose credentials authenticated
	// the webhook (a configuration name, e.g. "web"; "" for the default).
	Integration string `json:"integration,omitempty"`
	// Type is the provider's name for the webhook (its metrics label).
	Type string `json:"type"`
	Kind Kind   `json:"kind"`
	// Decision is set when the event carries a decision; a KindProcessed
	// event may carry one too (a provider deciding automatically).
	Decision Status `json:"decision,omitempty"`
	// ProviderStatus is the provider's raw status word, for the record.
	ProviderStatus string `json:"provider_status,omitempty"`
	// ReasonCode is the provider's decision reason code, if it has one.
	ReasonCode string `json:"reason_code,omitempty"`
	// OccurredAt is the provider's timestamp for the event; decisions are
	// ordered by it, never by arrival.
	OccurredAt time.Time `json:"occurred_at"`
	// UserID is the app's own user id when the webhook carries one, and
	// UserIDSource names the field it came from (e.g. "vendorData").
	UserID       string `json:"user_id,omitempty"`
	UserIDSource string `json:"user_id_source,omitempty"`
	// UserRef is what the IdvUserId search attribute shows for UserID when
	// ids are shown hashed (IDV_USER_ID_ATTRIBUTE=hmac); "" shows UserID.
	UserRef string `json:"user_ref,omitempty"`
	// AttemptID is the provider's attempt within the session, if any.
	AttemptID string `json:"attempt_id,omitempty"`
	// ReceivedAt is when the receiver took the webhook in (or the workflow
	// polled); a decision without a provider time is ordered by it (R5).
	ReceivedAt time.Time `json:"received_at,omitzero"`
}

// orderKey is the decision's place in the order of decisions (R2-R5).
func (e Event) orderKey() record.Key {
	return record.Key{
		At:   record.OrderTime(e.OccurredAt, e.ReceivedAt),
		Rank: record.RankOf(string(e.Decision), false), Status: string(e.Decision),
		Provider: e.Provider, SessionID: e.SessionID, ReasonCode: e.ReasonCode,
	}
}

// Validate checks the fields every event must have, and the bounds of every
// provider string in it (R9), before it is signalled. Its message is safe to
// show the sender: it names a field, never quotes one.
func (e Event) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("event has no id")
	case e.Provider == "":
		return fmt.Errorf("event has no provider")
	case e.SessionID == "":
		return fmt.Errorf("event has no session id")
	case e.Kind == "":
		return fmt.Errorf("event has no kind")
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"event id", e.ID, MaxEventID},
		{"provider", e.Provider, record.MaxWord},
		{"session id", e.SessionID, record.MaxSessionID},
		{"event type", e.Type, record.MaxWord},
		{"decision", string(e.Decision), record.MaxWord},
		{"status", e.ProviderStatus, record.MaxWord},
		{"reason code", e.ReasonCode, record.MaxWord},
		{"user id", e.UserID, record.MaxUserID},
		{"user id source", e.UserIDSource, record.MaxWord},
		{"user ref", e.UserRef, record.MaxWord},
		{"attempt id", e.AttemptID, record.MaxAttemptID},
	} {
		if err := record.CheckString(f.name, f.value, f.max); err != nil {
			return err
		}
	}
	if err := record.CheckTime("event time", e.OccurredAt); err != nil {
		return err
	}
	if !e.ReceivedAt.IsZero() {
		return record.CheckFuture("event time", e.OccurredAt, e.ReceivedAt)
	}
	return nil
}

// MaxEventID bounds an event's ID: the providers' ids it is built from are
// bounded, and 512 bytes leaves room for their prefixes.
const MaxEventID = 512

// Input starts a VerificationWorkflow run.
type Input struct {
	Provider  string `json:"provider"`
	SessionID string `json:"session_id"`
	// Integration is the provider account the session belongs to: its API
	// calls use that account's credentials.
	Integration string `json:"integration,omitempty"`
	// Carried is set when a run continues as new (R10): the state the
	// previous run of the session handed over.
	Carried *Carried `json:"carried,omitempty"`
	// Reopened is set by the receiver when the session had a run that
	// closed before this one started: the run first takes in what the
	// session's runs that ended before their end held, and when they
	// received it (session.takeEarlier).
	Reopened bool `json:"reopened,omitempty"`
}

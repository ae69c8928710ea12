// Package operator is what an operator acts on sessions with: resync a
// session from its provider's API, retry a session that ended in error,
// the same in bulk as a workflow of its own (rate limited, cancellable,
// with progress), and the listing of sessions that need attention. Every
// action obeys docs/semantics.md: it only ever hands a session an event
// its workflow already understands, or runs the session again, so the
// store's rules decide what reaches the user; none can move a user
// backwards. Each action leaves an audit record in the user store.
//
// This file is the contract the admin API, the worker and cmd/idvctl
// share.
package operator

import (
	"time"

	"github.com/idvflow/idvflow/workflows"
)

// WorkflowName is the registered name of a bulk operation's workflow.
const WorkflowName = "OperationWorkflow"

// QueryProgress is the query a running operation answers with Progress.
const QueryProgress = "progress"

// WorkflowID is the id of bulk operation id's workflow.
func WorkflowID(id string) string { return "operation:" + id }

// Action is what an operator does to a session.
type Action string

const (
	// ActionResync asks the provider's API for the session's decision and
	// hands what it says to the session (a new run if none is open).
	ActionResync Action = "resync"
	// ActionRetry runs a session that ended in error again: every event
	// its failed run held is handed to the session again, as the receiver
	// hands a webhook, so a new run (or the open one) takes them in. It
	// never resets or terminates a run.
	ActionRetry Action = "retry"
	// ActionRestart runs an open session again on today's workers and
	// code (a bad deploy left it running with wrong commands): it
	// terminates the session's open run, then hands every event that run
	// held to the session again, as a retry does. Unlike Temporal's reset,
	// it reads the run's events only once the run is closed, so none that
	// reached it is missed.
	ActionRestart Action = "restart"
)

// Known reports whether a is an action.
func (a Action) Known() bool { return a == ActionResync || a == ActionRetry || a == ActionRestart }

// Outcomes of one action on one session.
const (
	OutcomeSignalled  = "signalled"   // resync: the provider's decision went to the session
	OutcomeNoDecision = "no_decision" // resync: the provider has not decided
	OutcomeRetried    = "retried"     // retry: the failed run's events went to the session again
	OutcomeRestarted  = "restarted"   // restart: the open run was closed and its events went to the session again
	OutcomeNothing    = "nothing_to_retry"
	OutcomeFailed     = "failed" // the action could not be done (Detail says why)
)

// State is a session state the listing selects.
type State string

const (
	// StateWaiting: open, no decision yet.
	StateWaiting State = "waiting"
	// StatePolling: open, no decision, and the run has begun asking the
	// provider's API (its decision webhook is late).
	StatePolling State = "polling"
	// StateFailed: the session's newest run ended in error.
	StateFailed State = "failed"
	// StateStuck: open, and a workflow task or an activity keeps failing
	// (a misconfigured worker, a step that keeps failing).
	StateStuck State = "stuck"
)

// Known reports whether s is a state.
func (s State) Known() bool {
	switch s {
	case StateWaiting, StatePolling, StateFailed, StateStuck:
		return true
	}
	return false
}

// Filter selects sessions: by state, how long ago the session began, and
// provider; Query, when set, narrows further with a visibility query.
type Filter struct {
	State     State         `json:"state"`
	OlderThan time.Duration `json:"older_than,omitempty"`
	Provider  string        `json:"provider,omitempty"`
	Query     string        `json:"query,omitempty"`
}

// Session is one listed session and why it is listed.
type Session struct {
	Provider   string     `json:"provider"`
	SessionID  string     `json:"session_id"`
	WorkflowID string     `json:"workflow_id"`
	RunID      string     `json:"run_id"`
	State      State      `json:"state"`
	StartedAt  time.Time  `json:"started_at"`
	NextStep   string     `json:"next_step,omitempty"`
	NextStepAt *time.Time `json:"next_step_at,omitempty"`
	Why        string     `json:"why"`
}

// Target is one session an action applies to.
type Target struct {
	Provider  string `json:"provider"`
	SessionID string `json:"session_id"`
}

// WorkflowID is the target's session workflow.
func (t Target) WorkflowID() string { return workflows.WorkflowID(t.Provider, t.SessionID) }

// Result is what one action did to one session.
type Result struct {
	Target
	Action  Action `json:"action"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
	// Decision is the provider's decision a resync handed the session.
	Decision string `json:"decision,omitempty"`
	UserID   string `json:"user_id,omitempty"`
}

// Request starts a bulk operation: one action on each of Targets (what the
// dry run listed), at most RatePerSecond sessions a second.
type Request struct {
	ID            string   `json:"id"`
	Action        Action   `json:"action"`
	Filter        Filter   `json:"filter"`
	Targets       []Target `json:"targets"`
	RatePerSecond int      `json:"rate_per_second"`
}

// MaxTargets bounds one bulk operation: narrow the filter (older_than,
// provider) or run another operation for the rest.
const MaxTargets = 1000

// Progress is a bulk operation's state: what it has done so far and how
// each session came out.
type Progress struct {
	ID       string         `json:"id"`
	Action   Action         `json:"action"`
	State    string         `json:"state"` // running, completed, cancelled
	Total    int            `json:"total"`
	Done     int            `json:"done"`
	Outcomes map[string]int `json:"outcomes"`
	// Failures are the sessions whose action failed (at most 100).
	Failures []Result `json:"failures,omitempty"`
}

// Operation states.
const (
	OperationRunning   = "running"
	OperationCompleted = "completed"
	OperationCancelled = "cancelled"
)

// Package onboarding is the contract of a user's onboarding workflow: its
// name, its workflow id, the change a session hands to it, and the signal,
// update and query that reach it. The workflow itself is in
// workflows/onboarding.go; the session's ApplyAndHandOver activity hands
// changes over with a Starter, and the admin API completes a review gate with an
// Update.
//
// A user's onboarding runs beside the user's record, never in its way
// (docs/semantics.md R11): a session applies a decision to the record and
// hands the change over; the steps that follow (notify the app, wait for a
// person) run here, for as long as they take, one change at a time.
package onboarding

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

const (
	// WorkflowName is the onboarding workflow's type.
	WorkflowName = "OnboardingWorkflow"
	// SignalChange hands one applied change to the user's onboarding.
	SignalChange = "change"
	// UpdateReview completes the review gate of the change it names.
	UpdateReview = "review"
	// QueryState answers State.
	QueryState = "state"
	// idPrefix starts every onboarding workflow id.
	idPrefix = "onboarding:"
)

// Onboarding's own search attribute: the gate a run waits at, so an
// operator can list the users waiting for a person
// (IdvOnboardingWaiting = "review").
var AttrWaiting = temporal.NewSearchAttributeKeyKeyword("IdvOnboardingWaiting")

// WorkflowID is the id of the onboarding of the user whose reference (the
// IdvUserId search attribute's value, userref) is userRef: one per user, so
// a user's changes run one at a time, in order.
func WorkflowID(userRef string) string { return idPrefix + userRef }

// Change is one change the user store applied to a user's record, as the
// steps see it. ID is the store's change id: the same in every run that
// meets the change, so it names the change's side effects (webhook-id).
type Change struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Provider  string    `json:"provider"`
	SessionID string    `json:"session_id"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason_code,omitempty"`
	At        time.Time `json:"at"` // the store's order time for the change
	// Verdict says whether Status is a verdict on the person (approved,
	// declined) or how one session ended (docs/semantics.md R1).
	Verdict bool `json:"verdict,omitempty"`
	// Rank is the change's rank in the record's order (record.Rank: a
	// provider's final decision, or idvflow's own ending of a session),
	// which orders changes of one order time as the store does; 0 in
	// hand-overs of 1.0.
	Rank int `json:"rank,omitempty"`
}

// Compare orders changes as the user's record does (docs/semantics.md R2):
// by the store's order time, then rank, status, provider, session and
// reason code, and last by change id.
func Compare(a, b Change) int {
	if d := a.At.Compare(b.At); d != 0 {
		return d
	}
	if d := cmp.Compare(a.rank(), b.rank()); d != 0 {
		return d
	}
	for _, p := range [][2]string{{a.Status, b.Status}, {a.Provider, b.Provider}, {a.SessionID, b.SessionID}, {a.Reason, b.Reason}, {a.ID, b.ID}} {
		if d := cmp.Compare(p[0], p[1]); d != 0 {
			return d
		}
	}
	return 0
}

// SortKey is the change's place in the record's order as bytes: for
// changes a and b, bytes.Compare(a.SortKey(), b.SortKey()) is Compare(a,
// b) (for fields without a NUL byte, which no stored field holds), so a
// database orders changes as the record does.
func (c Change) SortKey() []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(c.At.UnixNano())^(1<<63))
	k = append(k, byte(c.rank()))
	for _, f := range []string{c.Status, c.Provider, c.SessionID, c.Reason, c.ID} {
		k = append(append(k, f...), 0)
	}
	return k
}

// rank is the change's rank; a 1.0 hand-over's is a provider's final
// decision's (2, record.RankFinal).
func (c Change) rank() int {
	if c.Rank == 0 {
		return 2
	}
	return c.Rank
}

// Review is a person's answer at the review gate of change ChangeID.
type Review struct {
	ChangeID string `json:"change_id"`
	// Outcome is "passed" (the steps after the gate run) or "rejected"
	// (they do not). Neither changes the user's record (R11).
	Outcome string `json:"outcome"`
	// Reviewer names who answered (an operator id, not a person's data).
	Reviewer string `json:"reviewer"`
}

// Bounds of a Review's fields: a change id is 32 hex digits.
const (
	maxChangeID = 64
	maxReviewer = 128
)

// Review outcomes.
const (
	ReviewPassed   = "passed"
	ReviewRejected = "rejected"
)

// Check reports what is wrong with r, for a clear refusal before it
// reaches the workflow.
func (r Review) Check() error {
	var errs []error
	if r.ChangeID == "" {
		errs = append(errs, errors.New("change_id is required"))
	}
	if r.Outcome != ReviewPassed && r.Outcome != ReviewRejected {
		errs = append(errs, fmt.Errorf("outcome must be %q or %q", ReviewPassed, ReviewRejected))
	}
	if strings.TrimSpace(r.Reviewer) == "" {
		errs = append(errs, errors.New("reviewer is required"))
	}
	// Bounded, so an answer always fits an Update id and a history.
	if len(r.ChangeID) > maxChangeID {
		errs = append(errs, fmt.Errorf("change_id is longer than %d bytes", maxChangeID))
	}
	if len(r.Reviewer) > maxReviewer || !utf8.ValidString(r.Reviewer) || strings.ContainsFunc(r.Reviewer, unicode.IsControl) {
		errs = append(errs, fmt.Errorf("reviewer must be at most %d bytes of printable UTF-8", maxReviewer))
	}
	return errors.Join(errs...)
}

// State is what the onboarding query answers.
type State struct {
	// Current is the change whose steps run now, with the step it is at.
	Current *Change `json:"current,omitempty"`
	Step    string  `json:"step,omitempty"`
	// Waiting names the gate the current step waits at ("review"), if any.
	Waiting string `json:"waiting,omitempty"`
	// Queued are the changes whose steps have not started, in order.
	Queued []Change `json:"queued,omitempty"`
	// Done lists the last changes whose steps ended, newest last.
	Done []Outcome `json:"done,omitempty"`
}

// Outcome is what became of one change's steps.
type Outcome struct {
	ChangeID string `json:"change_id"`
	Status   string `json:"status"`
	// Steps is each step's result: "done", "<step>: skipped",
	// "<step>: failed: …", "review: passed by …", "rejected",
	// "superseded"; or "done before" (a run of this onboarding ran them
	// to the end before: the change was handed over twice).
	Steps []string `json:"steps"`
	// Review is the answer the review gate took, if it held the change.
	Review *Review `json:"review,omitempty"`
}

// Starter hands changes to users' onboarding workflows.
type Starter struct {
	Client    client.Client
	TaskQueue string
}

// Hand signals change c, for the user whose reference is userRef, to the
// user's onboarding, starting it when none is open. The onboarding drops a
// change it already has (by c.ID), so a retried hand-over is safe.
func (s Starter) Hand(ctx context.Context, userRef string, c Change) error {
	opts := client.StartWorkflowOptions{
		ID:        WorkflowID(userRef),
		TaskQueue: s.TaskQueue,
		// A closed onboarding (its steps done) starts afresh.
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            "onboarding",
	}
	_, err := s.Client.SignalWithStartWorkflow(ctx, opts.ID, SignalChange, c, opts, WorkflowName, Input{})
	if err != nil {
		return fmt.Errorf("hand change %s to onboarding: %w", c.ID, err)
	}
	return nil
}

// Signal signals change c to the open run of the onboarding of the user
// whose reference is userRef, and starts none: a worker without the plan
// hands over this way (the store owes the change, and the onboarding's
// next run reads it). It reports whether a run took the signal; no open
// run is no error.
func (s Starter) Signal(ctx context.Context, userRef string, c Change) (bool, error) {
	err := s.Client.SignalWorkflow(ctx, WorkflowID(userRef), "", SignalChange, c)
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("signal change %s to onboarding: %w", c.ID, err)
	}
	return true, nil
}

// The steps a plan can name, in the order they run.
const (
	// StepReview holds a change whose status the plan lists until a
	// person answers (Review); the steps after it run only if it passed.
	StepReview = "review"
	// StepNotify posts the change to the team's app (IDV_NOTIFY_URL).
	StepNotify = "notify-app"
)

// Plan is the steps a run takes: the worker that runs the run's first
// task records its own (a side effect; with Worker Versioning, the build
// the run is pinned to), and the run keeps it, carried when it continues
// as new, so a worker with other steps changes new runs only.
type Plan struct {
	Steps []string `json:"steps"`
	// Review lists the statuses the review gate holds.
	Review []string `json:"review,omitempty"`
	// Idle is how long a run with nothing left to do stays open for a
	// repeated hand-over before it closes.
	Idle time.Duration `json:"idle"`
	// Release is the behaviour of the runs that record this plan (the
	// workflow sets it as it records the plan, so it costs no marker of
	// its own): 0 for runs of 1.0, 1 for runs that finish a change in the
	// store once its steps ran and order changes as the record does, 2 for
	// runs that also read what the store owes the onboarding before their
	// first change (what a terminated run held).
	Release int `json:"release,omitempty"`
}

// Input starts an onboarding run (empty); a continued run gets its plan
// and what the last one carried.
type Input struct {
	Plan    Plan     `json:"plan,omitzero"`
	Carried *Carried `json:"carried,omitempty"`
}

// Carried is what one onboarding run hands to the next when it continues
// as new: the change whose steps were running (from the step it was at),
// the queue, and the ids already taken.
type Carried struct {
	Current *Change  `json:"current,omitempty"`
	Step    int      `json:"step,omitempty"`
	Results []string `json:"results,omitempty"`
	// Answer is the review gate's answer for Current, once given.
	Answer *Review   `json:"answer,omitempty"`
	Queued []Change  `json:"queued,omitempty"`
	Seen   []string  `json:"seen,omitempty"`
	Done   []Outcome `json:"done,omitempty"`
	// Unread says the run had still to read what the store owes the
	// onboarding (it continued before its read, or its read stopped at its
	// bounds); User is whose onboarding, for that read.
	Unread bool   `json:"unread,omitempty"`
	User   string `json:"user,omitempty"`
}

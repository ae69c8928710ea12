// Package record holds the rules of a user's record that the workflow and
// the user store both apply (docs/semantics.md): how decisions are ordered,
// which statuses are final, the kinds of change, what applying one did, and
// how long a provider's string may be. It imports nothing with I/O, so the
// deterministic workflow and the SQL store share one definition.
package record

import (
	"cmp"
	"fmt"
	"time"
	"unicode/utf8"
)

// Kinds of change to a user's record.
const (
	KindDecision  = "decision"
	KindScreening = "screening"
)

// Outcome says what applying a change did.
type Outcome string

const (
	// Applied: the record changed and a history row was written.
	Applied Outcome = "applied"
	// Duplicate: this exact change was applied before (by an earlier
	// attempt or an earlier run). Steps that follow an applied change run
	// again for it: their own idempotency keys make that safe.
	Duplicate Outcome = "duplicate"
	// Stale: the record holds this decision, or one that is newer (R2).
	Stale Outcome = "stale"
)

// Rank orders decisions whose order times are equal (R3).
type Rank int

const (
	// RankNonFinal: a provider decision that keeps the session open
	// (review, resubmission_requested, pending, anything unknown).
	RankNonFinal Rank = 1
	// RankFinal: a provider decision that ends it (approved, declined,
	// expired, abandoned).
	RankFinal Rank = 2
	// RankSessionEnd: idvflow's own ending of a session (expired after
	// IDV_SESSION_EXPIRY, error): it follows everything its session said.
	RankSessionEnd Rank = 3
)

// Final reports whether a provider status ends the session. Anything not
// known to be final, including words a provider adds later, keeps it open.
func Final(status string) bool {
	switch status {
	case "approved", "declined", "expired", "abandoned":
		return true
	}
	return false
}

// RankOf is the rank of a decision with this status; sessionEnd marks
// idvflow's own outcomes (R4).
func RankOf(status string, sessionEnd bool) Rank {
	switch {
	case sessionEnd:
		return RankSessionEnd
	case Final(status):
		return RankFinal
	}
	return RankNonFinal
}

// MaxClockSkew is how far ahead of its receipt a provider time may be (R5).
// A webhook further ahead is refused with 400, and the provider delivers it
// again later; a poll answer further ahead counts as no answer yet. So the
// order time never depends on when a decision happened to arrive.
const MaxClockSkew = 5 * time.Minute

// OrderTime is the time a decision is ordered by (R1, R5): the provider's
// own time, or the time idvflow received it when the provider gives none.
func OrderTime(provider, received time.Time) time.Time {
	if provider.IsZero() {
		return received.UTC()
	}
	return provider.UTC()
}

// CheckFuture reports a provider time more than MaxClockSkew after now.
func CheckFuture(field string, t, now time.Time) error {
	if !t.IsZero() && t.After(now.Add(MaxClockSkew)) {
		return fmt.Errorf("%s is in the future", field)
	}
	return nil
}

// Key is everything a user's record shows of a decision, in the order that
// decides which of two decisions the record holds (R2, R3): the later order
// time wins; on equal times the higher rank; then the rest, compared as
// text, so that the outcome never depends on which arrived first.
type Key struct {
	At           time.Time
	Rank         Rank
	Status       string
	Provider     string
	SessionID    string
	ReasonCode   string
	Reason       string
	UserIDSource string
}

// Compare returns -1, 0 or +1 as k orders before, equal to or after o. Times
// compare at microsecond precision, the precision the store keeps.
func (k Key) Compare(o Key) int {
	if c := cmp.Compare(k.At.UnixMicro(), o.At.UnixMicro()); c != 0 {
		return c
	}
	if c := cmp.Compare(k.Rank, o.Rank); c != 0 {
		return c
	}
	for _, p := range [][2]string{
		{k.Status, o.Status}, {k.Provider, o.Provider}, {k.SessionID, o.SessionID},
		{k.ReasonCode, o.ReasonCode}, {k.Reason, o.Reason}, {k.UserIDSource, o.UserIDSource},
	} {
		if c := cmp.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	return 0
}

// SameContent reports whether two decisions say the same thing to the
// user's app: status, provider, session and reason code. A newer decision
// with the same content moves the record's order key, but is not a new
// change (R2).
func (k Key) SameContent(o Key) bool {
	return k.Status == o.Status && k.Provider == o.Provider && k.SessionID == o.SessionID && k.ReasonCode == o.ReasonCode
}

// Bounds on provider strings (R9). Over them, or with control characters
// or invalid UTF-8, a webhook is refused with 400 and a poll answer is a
// permanent provider error: nothing unbounded reaches Temporal or the store.
const (
	MaxSessionID  = 128 // provider session ids and identity keys are UUIDs
	MaxUserID     = 255 // the app's own user id (vendorData, customer_user_id)
	MaxWord       = 64  // statuses, event types, reason codes, id sources
	MaxAttemptID  = 128
	MaxReasonText = 1024 // idvflow's own reasons (error messages)
)

// CheckString reports why s cannot be carried as the named field: longer
// than max bytes, not UTF-8, or holding a control character (NUL included,
// which PostgreSQL cannot store).
func CheckString(field, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is longer than %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s contains a control character", field)
		}
	}
	return nil
}

// Earliest and Latest bound a provider time that idvflow accepts (R5): a
// time outside is a wrong unit or a broken clock, refused with 400.
var (
	Earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	Latest   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// CheckTime reports why a provider time cannot be used; the zero time
// (none given) is fine.
func CheckTime(field string, t time.Time) error {
	if t.IsZero() || (!t.Before(Earliest) && t.Before(Latest)) {
		return nil
	}
	return fmt.Errorf("%s is outside 2000-01-01 to 2200-01-01", field)
}

// Verdict reports whether a status is a verdict on the person (R1):
// approved or declined. Every other outcome (review, resubmission
// requested, pending, a provider's expired or abandoned, idvflow's expired
// and error) is a session outcome: it says how one session ended or
// stands, not who the person is.
func Verdict(status string) bool {
	return status == "approved" || status == "declined"
}

// State is what a user's record holds of decisions (R2): the greatest
// decision of any kind applied to it, and the greatest verdict (nil before
// the user has one).
type State struct {
	Latest  Key
	Verdict *Key
}

// NewState is the record a user's first decision makes.
func NewState(k Key) State {
	s := State{Latest: k}
	if Verdict(k.Status) {
		s.Verdict = &k
	}
	return s
}

// Shown is the decision the record's status shows: the greatest verdict
// once the user has one, before that the greatest session outcome. A
// verdict changes only by a greater verdict.
func (s State) Shown() Key {
	if s.Verdict != nil {
		return *s.Verdict
	}
	return s.Latest
}

// With applies decision k to the record: it becomes the latest if it is
// greater than the latest, and the verdict if it is a verdict greater than
// the verdict. The outcome is Applied when the record says something new
// (the shown decision or the latest session outcome changed content), and
// Stale otherwise, even where a key moved (R2: a greater decision that says
// the same thing moves the key only).
func (s State) With(k Key) (State, Outcome) {
	next := s
	if k.Compare(s.Latest) > 0 {
		next.Latest = k
	}
	if Verdict(k.Status) && (s.Verdict == nil || k.Compare(*s.Verdict) > 0) {
		v := k
		next.Verdict = &v
	}
	if next.Shown().SameContent(s.Shown()) && next.Latest.SameContent(s.Latest) &&
		(next.Verdict == nil) == (s.Verdict == nil) {
		return next, Stale
	}
	return next, Applied
}

// Equal reports whether two states hold the same keys.
func (s State) Equal(o State) bool {
	if s.Latest.Compare(o.Latest) != 0 || (s.Verdict == nil) != (o.Verdict == nil) {
		return false
	}
	return s.Verdict == nil || s.Verdict.Compare(*o.Verdict) == 0
}

package sim

import (
	"net/http"
	"time"

	"github.com/idvflow/idvflow/workflows"
)

// Generated schedules (testkit/schedules) draw made-up events for
// every provider that has a Generator, and take each event's webhook from
// it: the schedule's tests then signal exactly what the provider's own
// parser makes of those bytes, and send the same bytes to a real receiver.

// Event is one made-up event of a generated session.
type Event struct {
	// Kind is the event to build: KindProgress is the webhook that opens
	// every session; KindDecision, KindProcessed, KindScreening and
	// KindOther (a type idvflow does not model) follow in any order.
	Kind      workflows.Kind
	SessionID string
	UserID    string
	// Began is when the session's first webhook was sent.
	Began time.Time
	// N tells apart the session's decisions (each one its own attempt)
	// and its other events.
	N int
	// Status is a decision's or a screening's status, from Draws.
	Status string
	// ReasonCode is a decision's reason code, from Draws.ReasonCodes.
	ReasonCode string
	// At is the provider's time of a decision or screening; zero: the
	// webhook carries none (only when Draws.Untimed).
	At time.Time
	// Lesser names the user only in the field the provider's rules rank
	// below its best (Rules.UserIDSources), as some sessions' early
	// webhooks do (only for KindProgress and KindProcessed, when
	// Draws.Lesser).
	Lesser bool
}

// Draws is what a generated schedule may draw for a provider.
type Draws struct {
	// Statuses are the statuses of its decisions.
	Statuses []string
	// ReasonCodes are the reason codes a decision may carry ("" for none,
	// repeated to make it likelier); nil when its decisions carry none.
	ReasonCodes []string
	// Screenings are the statuses of its screening results; nil when it
	// sends none.
	Screenings []string
	// Untimed is true when its decision and screening webhooks may carry
	// no time of their own.
	Untimed bool
	// Lesser is true when its progress and processed webhooks may name
	// the user only in a lesser field (Event.Lesser), before a decision
	// names them in the best.
	Lesser bool
	// Stamped is true when its signature carries the time it was sent
	// (its configuration is Stamped): a schedule then also delivers some
	// webhooks signed too long ago, beside their fresh deliveries, and
	// the receiver must refuse them and change nothing.
	Stamped bool
}

// Stamped is implemented by a provider configuration whose seal carries
// the time it was sent.
type Stamped interface {
	// SealAt is Seal (providers.Config) as if sent at at.
	SealAt(body []byte, at time.Time) (http.Header, []byte, error)
}

// Generator is a provider's side of generated schedules.
type Generator interface {
	// Draws says what a schedule may draw for the provider.
	Draws() Draws
	// Body is the event's webhook body as the provider sends it, before
	// Seal. Every body names ev.UserID the same way, so a session's user
	// id has one source; nil when the provider sends no such webhook.
	Body(ev Event) []byte
	// API is what the provider's API answers for the session when latest
	// is the newest decision it has made (nil: none yet). It answers a
	// decision as its webhook carries it, with a time always.
	API(sessionID, userID string, began time.Time, latest *Event) []byte
}

// Generated is implemented by a provider (providers.Provider) whose
// sessions generated schedules include.
type Generated interface {
	Generator() Generator
}

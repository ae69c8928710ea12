package receiver

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/idvflow/idvflow/internal/userref"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Parser maps an authentic body to the workflow's event (webhook.Provider
// and providers.Provider have it).
type Parser interface {
	Parse(body []byte) (workflows.Event, error)
}

// Authentic is a webhook body whose authenticity has been checked: by the
// receiver on the request, or earlier, for a quarantined webhook re-driven
// by an operator.
type Authentic struct {
	// Body is the JSON the provider signed (or encrypted, decrypted).
	Body []byte
	// Integration is the provider account that authenticated it.
	Integration string
	// FirstReceived, for a re-drive, is when the provider first delivered
	// it: an untimed decision is ordered by its receipt (R5), and that is
	// its first delivery, not the re-drive, or an old webhook would
	// overtake what the user got since. Zero: received now.
	FirstReceived time.Time
}

// Verdict is what became of an authentic webhook: its outcome, the event
// it became (as far as it was read), and why.
type Verdict struct {
	Outcome Outcome
	Event   workflows.Event
	// Reason is the answer's short reason, safe to show the sender.
	Reason string
	// Err is the parser's or Temporal's error, when there is one.
	Err error
}

// Status is the receiver's HTTP answer to v: 200 accepted or ignored, 401
// after all, 400 refused for good, 503 to come again.
func (v Verdict) Status() int {
	switch v.Outcome {
	case OutcomeAccepted, OutcomeIgnored:
		return http.StatusOK
	case OutcomeUnauthenticated:
		return http.StatusUnauthorized
	case OutcomeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// Kept reports whether v refuses the webhook for good after
// authentication: the receiver quarantines it.
func (v Verdict) Kept() bool { return v.Outcome == OutcomeMalformed }

// Deliverer turns an authentic webhook into its session's signal: parse,
// bound every provider string (R9), SignalWithStart. The receiver serves
// each webhook with it and the admin API re-drives quarantined ones with
// it, so both judge a webhook the same way.
type Deliverer struct {
	Temporal  Signaler
	TaskQueue string
	UserRef   userref.Ref
	// Timeout bounds the Temporal call (0: the caller's context only).
	Timeout time.Duration
}

// Deliver judges a and, when it is a session's event, signals it; the
// Verdict says what became of it. It never panics on a's contents.
func (d Deliverer) Deliver(ctx context.Context, p Parser, a Authentic) Verdict {
	ev, err := p.Parse(a.Body)
	ev.Integration = a.Integration
	var malformed *webhook.MalformedError
	switch {
	case errors.Is(err, webhook.ErrUnauthenticated):
		// A decrypted body that is not JSON was not authentic after all.
		return Verdict{Outcome: OutcomeUnauthenticated, Reason: "unauthenticated", Err: err}
	case errors.Is(err, webhook.ErrIgnored):
		return Verdict{Outcome: OutcomeIgnored, Event: ev, Reason: "webhook type not modelled"}
	case errors.As(err, &malformed):
		return refused(ev, malformed.Error())
	case err != nil:
		return refused(ev, "malformed payload")
	}

	// Every provider string is bounded before Temporal sees it
	// (docs/semantics.md R9): over a bound is the sender's error, not
	// ours. A time ahead is judged against now, whenever it first came.
	ev.ReceivedAt = time.Now().UTC()
	if err := ev.Validate(); err != nil {
		return refused(ev, "malformed payload: "+err.Error())
	}
	if ev.OccurredAt.IsZero() && !a.FirstReceived.IsZero() {
		ev.ReceivedAt = a.FirstReceived.UTC()
	}
	ev.UserRef = d.UserRef.Of(ev.UserID)

	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	if err := SignalWithStart(ctx, d.Temporal, d.TaskQueue, ev); err != nil {
		var invalid *serviceerror.InvalidArgument
		if errors.As(err, &invalid) && !clearsByItself(invalid) {
			// Temporal will refuse this request however often it comes:
			// a 503 would make the provider retry it for a week.
			return Verdict{Outcome: OutcomeMalformed, Event: ev, Reason: "refused by the workflow engine as invalid", Err: err}
		}
		return Verdict{Outcome: OutcomeUnavailable, Event: ev, Reason: "temporarily unavailable, retry later", Err: err}
	}
	return Verdict{Outcome: OutcomeAccepted, Event: ev, Reason: "accepted"}
}

// refused is the verdict on an authentic webhook that cannot be taken
// however often it comes: 400, and quarantined.
func refused(ev workflows.Event, reason string) Verdict {
	return Verdict{Outcome: OutcomeMalformed, Event: ev, Reason: reason}
}

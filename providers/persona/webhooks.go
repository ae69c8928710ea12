package persona

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Webhooks checks Persona's signature and parses its events.
type Webhooks struct {
	secrets   [][]byte
	tolerance time.Duration
	now       func() time.Time
}

// NewWebhooks returns a Webhooks that accepts a signature under any one of
// secrets (more than one while a secret rotates) made within tolerance of
// the receiver's clock. A tolerance that is not positive is refused: it
// must never read as "no check".
func NewWebhooks(secrets []string, tolerance time.Duration) (*Webhooks, error) {
	if tolerance <= 0 {
		return nil, errors.New("PERSONA_SIGNATURE_TOLERANCE must be positive")
	}
	if len(secrets) == 0 {
		return nil, errors.New("PERSONA_WEBHOOK_SECRETS is empty")
	}
	w := &Webhooks{tolerance: tolerance, now: time.Now}
	for _, s := range secrets {
		w.secrets = append(w.secrets, []byte(s))
	}
	return w, nil
}

// Name implements webhook.Provider.
func (*Webhooks) Name() string { return Name }

// Types implements webhook.Provider: the event names idvflow models.
func (*Webhooks) Types() []string {
	return []string{"inquiry.created", "inquiry.started", "inquiry.transitioned", "inquiry.completed", "inquiry.failed",
		"inquiry.marked-for-review", "inquiry.approved", "inquiry.declined", "inquiry.expired"}
}

// Authenticate verifies Persona-Signature over the body exactly as
// received. A genuine signature made outside the tolerance is also
// webhook.ErrStale, so the receiver counts it apart; the answer is the
// same 401 for every cause.
func (w *Webhooks) Authenticate(h http.Header, body []byte) ([]byte, error) {
	err := Verify(w.secrets, h.Get(SignatureHeader), body, w.now(), w.tolerance)
	switch {
	case err == nil:
		return body, nil
	case errors.Is(err, errStale):
		return nil, fmt.Errorf("%w: %w: %v", webhook.ErrUnauthenticated, webhook.ErrStale, err)
	}
	return nil, fmt.Errorf("%w: %v", webhook.ErrUnauthenticated, err)
}

// event holds the fields of a Persona event that idvflow reads. The
// inquiry's personal data (names, birthdate, address, document numbers,
// fields) is deliberately absent and never decoded.
type event struct {
	Data *struct {
		Type       string `json:"type"`
		ID         string `json:"id"`
		Attributes *struct {
			Name      string  `json:"name"`
			CreatedAt *string `json:"created-at"`
			Payload   *struct {
				Data *resource `json:"data"`
			} `json:"payload"`
		} `json:"attributes"`
	} `json:"data"`
}

// resource is the object an event is about: an inquiry for inquiry.*
// events (and in the API's answer), something else for the others.
type resource struct {
	Type       string   `json:"type"`
	ID         string   `json:"id"`
	Attributes *inquiry `json:"attributes"`
}

// inquiry is the non-personal part of an inquiry's attributes.
type inquiry struct {
	Status            string  `json:"status"`
	ReferenceID       *string `json:"reference-id"`
	CreatedAt         *string `json:"created-at"`
	CompletedAt       *string `json:"completed-at"`
	FailedAt          *string `json:"failed-at"`
	MarkedForReviewAt *string `json:"marked-for-review-at"`
	DecisionedAt      *string `json:"decisioned-at"`
	ExpiredAt         *string `json:"expired-at"`
}

// userIDSource names the one field Persona names the app's user in.
const userIDSource = "reference-id"

// Parse maps an authentic Persona event to the workflow's event
// (docs/providers.md, "Persona": the mapping and why).
func (w *Webhooks) Parse(body []byte) (workflows.Event, error) {
	var e event
	var malformed *webhook.MalformedError
	if err := webhook.Unmarshal(body, &e); errors.As(err, &malformed) {
		return workflows.Event{}, err
	} else if err != nil {
		return workflows.Event{}, webhook.Malformed("body is not a JSON object of a Persona event")
	}
	d := e.Data
	switch {
	case d == nil || d.Type != "event":
		return workflows.Event{}, webhook.Malformed(`data.type is not "event"`)
	case d.ID == "":
		return workflows.Event{}, webhook.Malformed("no data.id (the event id)")
	case d.Attributes == nil || d.Attributes.Name == "":
		return workflows.Event{}, webhook.Malformed("no data.attributes.name")
	}
	name := d.Attributes.Name
	kind, decision, modelled := mapping(name)
	if !modelled {
		// verification.*, report.*, case.* and whatever Persona adds: an
		// answer other than 2xx would make Persona retry it for two days.
		return workflows.Event{}, webhook.ErrIgnored
	}
	created, err := timeField("data.attributes.created-at", d.Attributes.CreatedAt)
	if err != nil {
		return workflows.Event{}, err
	}
	if created.IsZero() {
		return workflows.Event{}, webhook.Malformed("no data.attributes.created-at")
	}
	if d.Attributes.Payload == nil || d.Attributes.Payload.Data == nil || d.Attributes.Payload.Data.Type != "inquiry" {
		return workflows.Event{}, webhook.Malformed(`%s without an inquiry in data.attributes.payload.data`, name)
	}
	inq := d.Attributes.Payload.Data
	if err := webhook.CheckSessionID(inq.ID); err != nil {
		return workflows.Event{}, err
	}
	ev := workflows.Event{
		ID:         "event/" + d.ID,
		Provider:   Name,
		SessionID:  inq.ID,
		Type:       name,
		Kind:       kind,
		Decision:   decision,
		OccurredAt: created,
	}
	if a := inq.Attributes; a != nil {
		ev.ProviderStatus = a.Status
		if a.ReferenceID != nil && *a.ReferenceID != "" {
			ev.UserID, ev.UserIDSource = *a.ReferenceID, userIDSource
		}
		if decision != "" {
			at, err := a.decidedAt(decision)
			if err != nil {
				return workflows.Event{}, err
			}
			if !at.IsZero() {
				ev.OccurredAt = at
			}
		}
	}
	if ev.ProviderStatus == "" {
		ev.ProviderStatus = strings.TrimPrefix(name, "inquiry.")
	}
	// What the receiver would refuse is refused here already.
	if err := ev.Validate(); err != nil {
		return workflows.Event{}, webhook.Malformed("%v", err)
	}
	return ev, nil
}

// mapping is what an event name means for the session. Decisions are
// approved and declined (verdicts), marked-for-review (review, not final)
// and expired (Persona's own end of the inquiry). completed and failed
// say the end user reached the last screen with the checks passed or
// failed: the processed milestone, not a verdict (Persona's verdict is
// approved or declined, from a workflow or a reviewer). created, started
// and transitioned (a step of the flow) are progress.
func mapping(name string) (workflows.Kind, workflows.Status, bool) {
	switch name {
	case "inquiry.created", "inquiry.started", "inquiry.transitioned":
		return workflows.KindProgress, "", true
	case "inquiry.completed", "inquiry.failed":
		return workflows.KindProcessed, "", true
	case "inquiry.approved":
		return workflows.KindDecision, workflows.StatusApproved, true
	case "inquiry.declined":
		return workflows.KindDecision, workflows.StatusDeclined, true
	case "inquiry.marked-for-review":
		return workflows.KindDecision, workflows.StatusReview, true
	case "inquiry.expired":
		return workflows.KindDecision, workflows.StatusExpired, true
	}
	return "", "", false
}

// decidedAt is the inquiry's own time of a decision: decisioned-at (for a
// review, marked-for-review-at first), expired-at for an expiry. The
// webhook and the API's answer both read it here, so a decision has one
// order time however it arrives (R5, R7). Zero when the inquiry has none.
func (a *inquiry) decidedAt(d workflows.Status) (time.Time, error) {
	type field struct {
		name  string
		value *string
	}
	var fields []field
	switch d {
	case workflows.StatusExpired:
		fields = []field{{"expired-at", a.ExpiredAt}}
	case workflows.StatusReview:
		fields = []field{{"marked-for-review-at", a.MarkedForReviewAt}, {"decisioned-at", a.DecisionedAt}}
	default:
		fields = []field{{"decisioned-at", a.DecisionedAt}}
	}
	for _, f := range fields {
		t, err := timeField("the inquiry's "+f.name, f.value)
		if err != nil || !t.IsZero() {
			return t, err
		}
	}
	return time.Time{}, nil
}

// timeField reads one of Persona's ISO 8601 times; null or absent is
// zero, anything else that is not a time is refused.
func timeField(name string, v *string) (time.Time, error) {
	if v == nil || *v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return time.Time{}, webhook.Malformed("%s is not an ISO 8601 time", name)
	}
	return t.UTC(), nil
}

package onfido

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Webhooks checks Onfido's signature and parses its events.
type Webhooks struct{ tokens [][]byte }

// NewWebhooks returns a Webhooks that accepts a signature under any one of
// tokens (more than one while a token rotates).
func NewWebhooks(tokens []string) (*Webhooks, error) {
	if len(tokens) == 0 {
		return nil, errors.New("ONFIDO_WEBHOOK_TOKENS is empty")
	}
	w := &Webhooks{}
	for _, t := range tokens {
		w.tokens = append(w.tokens, []byte(t))
	}
	return w, nil
}

// Name implements webhook.Provider.
func (*Webhooks) Name() string { return Name }

// Types implements webhook.Provider: the actions idvflow models.
func (*Webhooks) Types() []string { return []string{"workflow_run.completed", "check.completed"} }

// Authenticate verifies X-SHA2-Signature over the body exactly as received.
func (w *Webhooks) Authenticate(h http.Header, body []byte) ([]byte, error) {
	if err := Verify(w.tokens, h.Get(SignatureHeader), body); err != nil {
		return nil, fmt.Errorf("%w: %v", webhook.ErrUnauthenticated, err)
	}
	return body, nil
}

// event is an Onfido webhook: what happened (action) to which object.
type event struct {
	Payload *struct {
		ResourceType string `json:"resource_type"`
		Action       string `json:"action"`
		Object       *struct {
			ID          string  `json:"id"`
			Status      string  `json:"status"`
			CompletedAt *string `json:"completed_at_iso8601"`
		} `json:"object"`
	} `json:"payload"`
}

// Parse maps an authentic Onfido webhook to the workflow's event
// (docs/providers.md, "Onfido": the mapping and why).
func (w *Webhooks) Parse(body []byte) (workflows.Event, error) {
	var e event
	var malformed *webhook.MalformedError
	if err := webhook.Unmarshal(body, &e); errors.As(err, &malformed) {
		return workflows.Event{}, err
	} else if err != nil {
		return workflows.Event{}, webhook.Malformed("body is not a JSON object of an Onfido webhook")
	}
	p := e.Payload
	if p == nil || p.Action == "" {
		return workflows.Event{}, webhook.Malformed("no payload.action")
	}
	if p.Action != "workflow_run.completed" && p.Action != "check.completed" {
		// workflow_task.*, report.*, check.started, audio/video and
		// evidence files, whatever Onfido adds: acknowledged, counted.
		return workflows.Event{}, webhook.ErrIgnored
	}
	if p.Object == nil {
		return workflows.Event{}, webhook.Malformed("%s without payload.object", p.Action)
	}
	if err := webhook.CheckSessionID(p.Object.ID); err != nil {
		return workflows.Event{}, err
	}
	at, err := timeField("payload.object.completed_at_iso8601", p.Object.CompletedAt)
	if err != nil {
		return workflows.Event{}, err
	}
	if at.IsZero() {
		return workflows.Event{}, webhook.Malformed("no payload.object.completed_at_iso8601")
	}
	ev := workflows.Event{
		ID:             p.Action + "/" + p.Object.Status + "/" + at.Format(time.RFC3339Nano),
		Provider:       Name,
		SessionID:      p.Object.ID,
		Type:           p.Action,
		ProviderStatus: p.Object.Status,
		OccurredAt:     at,
	}
	if p.Action == "check.completed" {
		// A check's result (clear, consider) is not in its webhook: the
		// poll reads it from the API.
		ev.Kind = workflows.KindProcessed
	} else if d, ok := RunDecision(p.Object.Status); ok && d != "" {
		ev.Kind, ev.Decision = workflows.KindDecision, d
	} else if ok {
		ev.Kind = workflows.KindProgress // completed yet still processing: the poll will tell
	} else {
		return workflows.Event{}, webhook.Malformed("payload.object.status is not a workflow run status")
	}
	if err := ev.Validate(); err != nil {
		return workflows.Event{}, webhook.Malformed("%v", err)
	}
	return ev, nil
}

// RunDecision maps a workflow run's status: approved, declined, review and
// abandoned as idvflow's; error as review (the run failed, a person must
// look; it decides nothing about the person); processing and the
// awaiting_* statuses as no decision yet. ok is false for a word Onfido
// does not document.
func RunDecision(status string) (workflows.Status, bool) {
	switch status {
	case "approved":
		return workflows.StatusApproved, true
	case "declined":
		return workflows.StatusDeclined, true
	case "review", "error":
		return workflows.StatusReview, true
	case "abandoned":
		return workflows.StatusAbandoned, true
	case "processing", "awaiting_input", "awaiting_client_input":
		return "", true
	}
	return "", false
}

// CheckDecision maps a classic check's result: clear is approved;
// consider, which says a report needs a person's attention, is review.
func CheckDecision(status, result string) workflows.Status {
	switch {
	case status == "withdrawn":
		return workflows.StatusAbandoned
	case status != "complete":
		return ""
	case result == "clear":
		return workflows.StatusApproved
	case result == "consider":
		return workflows.StatusReview
	}
	return ""
}

// timeField reads one of Onfido's ISO 8601 times; null or absent is zero.
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

package persona

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/workflows"
)

// This file builds Persona's side of simulated inquiries, byte for byte as
// Persona sends it (JSON:API, compact, its fields in Persona's order): the
// simulator, the tests and the tools take their events from here.

// Outcomes are the decisions a Scenario can end in.
var Outcomes = []string{"approved", "declined", "review", "expired"}

// inquiryStatus and eventName are Persona's words for an outcome.
var (
	inquiryStatus = map[string]string{"approved": "approved", "declined": "declined", "review": "needs_review", "expired": "expired"}
	eventName     = map[string]string{"approved": "inquiry.approved", "declined": "inquiry.declined",
		"needs_review": "inquiry.marked-for-review", "expired": "inquiry.expired"}
)

// NewID is a Persona-style id: prefix (inq_, evt_) and 24 base58 characters.
func NewID(prefix string) string {
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}

// stableID is an id for a made-up event that is the same every time it is
// built, so its redeliveries carry one event id, as Persona's do.
func stableID(prefix string, parts ...any) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	return fmt.Sprintf("%s%x", prefix, sum[:12])
}

// timestamp is Persona's form of a time (milliseconds, UTC); null for none.
func timestamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// Times are an inquiry's times; zero ones are null.
type Times struct {
	Created, Started, Completed, Failed, MarkedForReview, Decisioned, Expired time.Time
}

// InquiryObject is an inquiry's JSON:API resource object, as the API
// serves it and as an event's payload carries it, with made-up personal
// data in the fields idvflow must never read.
func InquiryObject(id, userID, status string, at Times) sim.Object {
	return sim.Object{
		{Key: "type", Value: "inquiry"},
		{Key: "id", Value: id},
		{Key: "attributes", Value: sim.Object{
			{Key: "status", Value: status},
			{Key: "reference-id", Value: userID},
			{Key: "note", Value: nil},
			{Key: "behaviors", Value: sim.Object{{Key: "request-spoof-attempts", Value: 0}, {Key: "user-agent-spoof-attempts", Value: 0}}},
			{Key: "tags", Value: []any{}},
			{Key: "creator", Value: "API"},
			{Key: "reviewer-comment", Value: nil},
			{Key: "created-at", Value: timestamp(at.Created)},
			{Key: "started-at", Value: timestamp(at.Started)},
			{Key: "completed-at", Value: timestamp(at.Completed)},
			{Key: "failed-at", Value: timestamp(at.Failed)},
			{Key: "marked-for-review-at", Value: timestamp(at.MarkedForReview)},
			{Key: "decisioned-at", Value: timestamp(at.Decisioned)},
			{Key: "expired-at", Value: timestamp(at.Expired)},
			{Key: "redacted-at", Value: nil},
			{Key: "previous-step-name", Value: "verification_government_id"},
			{Key: "next-step-name", Value: "success"},
			{Key: "name-first", Value: sim.FirstName},
			{Key: "name-middle", Value: nil},
			{Key: "name-last", Value: sim.LastName},
			{Key: "birthdate", Value: sim.DateOfBirth},
			{Key: "identification-number", Value: sim.DocumentNumber},
			{Key: "email-address", Value: sim.Email},
			{Key: "phone-number", Value: nil},
			{Key: "fields", Value: sim.Object{}},
		}},
		{Key: "relationships", Value: sim.Object{
			{Key: "account", Value: sim.Object{{Key: "data", Value: nil}}},
			{Key: "template", Value: sim.Object{{Key: "data", Value: nil}}},
			{Key: "inquiry-template", Value: sim.Object{{Key: "data", Value: sim.Object{{Key: "type", Value: "inquiry-template"}, {Key: "id", Value: "itmpl_idvflowDevTemplate0001"}}}}},
			{Key: "reports", Value: sim.Object{{Key: "data", Value: []any{}}}},
			{Key: "verifications", Value: sim.Object{{Key: "data", Value: []any{}}}},
			{Key: "sessions", Value: sim.Object{{Key: "data", Value: []any{}}}},
			{Key: "documents", Value: sim.Object{{Key: "data", Value: []any{}}}},
			{Key: "selfies", Value: sim.Object{{Key: "data", Value: []any{}}}},
		}},
	}
}

// EventBody is a webhook body: the event eventID named name, created at
// created, about payload (an InquiryObject, or another resource).
func EventBody(eventID, name string, created time.Time, payload sim.Object) []byte {
	return sim.JSON(sim.Object{{Key: "data", Value: sim.Object{
		{Key: "type", Value: "event"},
		{Key: "id", Value: eventID},
		{Key: "attributes", Value: sim.Object{
			{Key: "name", Value: name},
			{Key: "payload", Value: sim.Object{{Key: "data", Value: payload}, {Key: "included", Value: []any{}}}},
			{Key: "created-at", Value: timestamp(created)},
		}},
	}}})
}

// decided is an inquiry of status (Persona's word) that reached it at at,
// after the times in t, with the time Persona sets for that status.
func decided(id, userID, status string, t Times, at time.Time) sim.Object {
	switch status {
	case "approved", "declined":
		t.Decisioned = at
	case "needs_review":
		t.MarkedForReview = at
	case "expired":
		t.Completed, t.Expired = time.Time{}, at // only an unfinished inquiry expires
	case "completed":
		t.Completed = at
	case "failed":
		t.Failed = at
	}
	return InquiryObject(id, userID, status, t)
}

// Scenario is a Persona inquiry for the simulator (`simulate persona`).
type Scenario struct {
	Outcome string // one of Outcomes
	UserID  string // default: one per inquiry
}

// Script implements sim.Scenario: the inquiry the API answers, then the
// events an inquiry sends on its way to the outcome, one step each.
func (sc Scenario) Script(now time.Time) (sim.Script, error) {
	if err := sim.OneOf("persona outcome", sc.Outcome, Outcomes); err != nil {
		return sim.Script{}, err
	}
	id := NewID("inq_")
	userID := sc.UserID
	if userID == "" {
		userID = "user-" + id[4:12]
	}
	now = now.UTC().Truncate(time.Millisecond)
	created, started, completed, decidedAt := now.Add(-4*time.Minute), now.Add(-3*time.Minute), now.Add(-2*time.Minute), now.Add(-time.Minute)
	status := inquiryStatus[sc.Outcome]
	final := decided(id, userID, status, Times{Created: created, Started: started, Completed: completed}, decidedAt)
	s := sim.Script{Provider: Name, SessionID: id, UserID: userID, Want: sc.Outcome, API: sim.JSON(final)}
	step := func(name string, at time.Time, inq sim.Object) {
		s.Steps = append(s.Steps, [][]byte{EventBody(NewID("evt_"), name, at, inq)})
	}
	step("inquiry.created", created, InquiryObject(id, userID, "created", Times{Created: created}))
	step("inquiry.started", started, InquiryObject(id, userID, "pending", Times{Created: created, Started: started}))
	if status != "expired" {
		step("inquiry.completed", completed, InquiryObject(id, userID, "completed", Times{Created: created, Started: started, Completed: completed}))
	}
	step(eventName[status], decidedAt, final)
	return s, nil
}

// Generator implements sim.Generated.
func (Provider) Generator() sim.Generator { return generator{} }

// generator makes Persona's events of generated schedules: every event
// names the user in reference-id and has its time; a redelivery is the
// same event (one event id), signed anew.
type generator struct{}

func (generator) Draws() sim.Draws {
	return sim.Draws{Statuses: []string{"approved", "declined", "needs_review", "expired"}, Stamped: true}
}

func (generator) Body(ev sim.Event) []byte {
	switch ev.Kind {
	case workflows.KindProgress:
		return EventBody(stableID("evt_", ev.SessionID, "started"), "inquiry.started", ev.Began,
			InquiryObject(ev.SessionID, ev.UserID, "pending", Times{Created: ev.Began, Started: ev.Began}))
	case workflows.KindProcessed:
		return EventBody(stableID("evt_", ev.SessionID, "completed"), "inquiry.completed", ev.Began,
			decided(ev.SessionID, ev.UserID, "completed", began(ev.Began), ev.Began))
	case workflows.KindDecision:
		return EventBody(stableID("evt_", ev.SessionID, "decision", ev.N, ev.Status), eventName[ev.Status], ev.At,
			decided(ev.SessionID, ev.UserID, ev.Status, began(ev.Began), ev.At))
	case workflows.KindOther: // an event idvflow does not model: acknowledged, not signalled
		return EventBody(stableID("evt_", ev.SessionID, "other", ev.N), "verification.passed", ev.Began, sim.Object{
			{Key: "type", Value: "verification/government-id"}, {Key: "id", Value: stableID("ver_", ev.SessionID, ev.N)},
			{Key: "attributes", Value: sim.Object{{Key: "status", Value: "passed"}}},
		})
	}
	return nil
}

func (generator) API(sessionID, userID string, start time.Time, latest *sim.Event) []byte {
	if latest == nil {
		return sim.JSON(InquiryObject(sessionID, userID, "pending", Times{Created: start, Started: start}))
	}
	return sim.JSON(decided(sessionID, userID, latest.Status, began(start), latest.At))
}

// began is the times of an inquiry created, started and completed at t.
func began(t time.Time) Times { return Times{Created: t, Started: t, Completed: t} }

package passbase

import (
	"fmt"
	"time"

	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/workflows"
)

// This file builds Passbase's side of simulated sessions, byte for byte as
// Passbase sends it (before encryption): the simulator, the tests and the
// tools take their webhooks from here.

// Outcomes are the statuses a Scenario can end in.
var Outcomes = []string{"approved", "declined", "pending"}

// Event vocabularies.
const (
	VocabularyLegacy = "legacy" // AUTHENTICATION_*
	VocabularyNew    = "new"    // VERIFICATION_*
)

// ProcessedBody is the "processing finished" event. In the newer
// vocabulary its status is "pending" (or the decision, with auto-decisions).
func ProcessedBody(vocabulary, key, userID, status string, created, updated time.Time) []byte {
	if vocabulary == VocabularyLegacy {
		return legacyBody("AUTHENTICATION_PROCESSED", key, userID, nil, created, updated)
	}
	return newBody("VERIFICATION_COMPLETED", key, status, created, updated)
}

// ReviewedBody is the decision event (approved or declined).
func ReviewedBody(vocabulary, key, userID, status string, created, updated time.Time) []byte {
	if vocabulary == VocabularyLegacy {
		approved := status == "approved"
		return legacyBody("AUTHENTICATION_REVIEW_STATUS_CHANGED", key, userID, &approved, created, updated)
	}
	return newBody("VERIFICATION_REVIEWED", key, status, created, updated)
}

func legacyBody(event, key, userID string, reviewStatus *bool, created, updated time.Time) []byte {
	var rs any
	if reviewStatus != nil {
		rs = *reviewStatus
	}
	return sim.JSON(sim.Object{
		{Key: "event", Value: event}, {Key: "authentication_key", Value: key}, {Key: "review_status", Value: rs},
		{Key: "created_at", Value: created.Unix()}, {Key: "updated_at", Value: updated.Unix()}, {Key: "integration_type", Value: "signup"},
		{Key: "additional_attributes", Value: sim.Object{
			{Key: "identifier", Value: sim.Email}, {Key: "identifier_type", Value: "email"}, {Key: "customer_user_id", Value: userID},
		}},
		{Key: "reauthenticated_from_key", Value: nil}, {Key: "watchlist", Value: nil},
	})
}

func newBody(event, key, status string, created, updated time.Time) []byte {
	return sim.JSON(sim.Object{
		{Key: "event", Value: event}, {Key: "key", Value: key}, {Key: "status", Value: status},
		{Key: "created", Value: created.Unix()}, {Key: "updated", Value: updated.Unix()}, {Key: "processed", Value: updated.Unix()},
	})
}

// IdentityObject is what GET /identities/{id} answers.
func IdentityObject(key, userID, status string, created, updated time.Time) []byte {
	return sim.JSON(sim.Object{
		{Key: "id", Value: key}, {Key: "status", Value: status},
		{Key: "owner", Value: map[string]any{"email": sim.Email, "first_name": sim.FirstName, "last_name": sim.LastName}},
		{Key: "score", Value: 0.93}, {Key: "created", Value: created.Unix()}, {Key: "updated", Value: updated.Unix()},
		{Key: "resources", Value: []any{map[string]any{"type": "PASSPORT", "datapoints": map[string]any{
			"date_of_birth": sim.DateOfBirth, "document_number": sim.DocumentNumber,
			"first_names": sim.FirstName, "last_name": sim.LastName,
		}}}},
		{Key: "metadata", Value: map[string]any{"customer_user_id": userID}},
		{Key: "watchlist", Value: map[string]any{"clean": true}},
	})
}

// Scenario is a Passbase session for the simulator (`simulate passbase`).
type Scenario struct {
	Outcome string // one of Outcomes
	UserID  string // default: one per session
	Legacy  bool   // AUTHENTICATION_* instead of VERIFICATION_* events
	Order   string // processed-first (default), decision-first or together
}

// Script implements sim.Scenario: the identity the API answers, and the
// processed and reviewed events in the scenario's order.
func (sc Scenario) Script(now time.Time) (sim.Script, error) {
	if err := sim.OneOf("passbase outcome", sc.Outcome, Outcomes); err != nil {
		return sim.Script{}, err
	}
	key := sim.NewUUID()
	userID := sc.UserID
	if userID == "" {
		userID = "user-" + key[:8]
	}
	vocab := VocabularyNew
	if sc.Legacy {
		vocab = VocabularyLegacy
	}
	now = now.UTC().Truncate(time.Second)
	created, processed, decided := now.Add(-3*time.Minute), now.Add(-2*time.Minute), now.Add(-time.Minute)
	if sc.Outcome == "pending" {
		decided = processed
	}
	s := sim.Script{Provider: Name, SessionID: key, UserID: userID, Want: sc.Outcome,
		API: IdentityObject(key, userID, sc.Outcome, created, decided)}
	processedEv := ProcessedBody(vocab, key, userID, "pending", created, processed)
	if sc.Outcome == "pending" {
		s.Steps = [][][]byte{{processedEv}}
		return s, nil
	}
	reviewed := ReviewedBody(vocab, key, userID, sc.Outcome, created, decided)
	switch sc.Order {
	case "decision-first":
		s.Steps = [][][]byte{{reviewed}, {processedEv}}
	case "together":
		s.Steps = [][][]byte{{processedEv, reviewed}}
	case "", "processed-first":
		s.Steps = [][][]byte{{processedEv}, {reviewed}}
	default:
		return sim.Script{}, fmt.Errorf("order %q: want processed-first, decision-first or together", sc.Order)
	}
	return s, nil
}

// Generator implements sim.Generated.
func (Provider) Generator() sim.Generator { return generator{} }

// generator makes Passbase's webhooks of generated schedules, in the older
// vocabulary: only its events name the app's user (the newer ones leave it
// to the identity), so every webhook of a session names it the same way.
// That vocabulary has no progress event: a session opens with its
// processed event, and its decisions are approved or declined.
type generator struct{}

func (generator) Draws() sim.Draws {
	return sim.Draws{Statuses: []string{"approved", "declined"}}
}

func (generator) Body(ev sim.Event) []byte {
	switch ev.Kind {
	case workflows.KindProgress, workflows.KindProcessed:
		return ProcessedBody(VocabularyLegacy, ev.SessionID, ev.UserID, "", ev.Began, ev.Began)
	case workflows.KindDecision:
		return ReviewedBody(VocabularyLegacy, ev.SessionID, ev.UserID, ev.Status, ev.Began, ev.At)
	case workflows.KindOther: // an event idvflow does not model
		return sim.JSON(sim.Object{
			{Key: "event", Value: "DATAPOINT_UPDATED"}, {Key: "key", Value: ev.SessionID},
			{Key: "created", Value: ev.Began.Unix()}, {Key: "updated", Value: ev.Began.Unix() + int64(ev.N)},
		})
	}
	return nil
}

func (generator) API(sessionID, userID string, began time.Time, latest *sim.Event) []byte {
	if latest == nil {
		return IdentityObject(sessionID, userID, "processing", began, began)
	}
	return IdentityObject(sessionID, userID, latest.Status, began, latest.At)
}

package veriff

import (
	"strconv"
	"time"

	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/workflows"
)

// This file builds Veriff's side of simulated sessions, byte for byte as
// Veriff sends it: the simulator, the tests and the tools take their
// webhooks from here.

// Outcomes are the decisions a Scenario can end in.
var Outcomes = []string{"approved", "declined", "resubmission_requested", "review", "expired", "abandoned"}

// DecisionCode is Veriff's decision code for a status.
func DecisionCode(status string) int {
	switch status {
	case "approved":
		return 9001
	case "declined":
		return 9102
	case "resubmission_requested":
		return 9103
	case "expired", "abandoned":
		return 9104
	case "review":
		return 9121
	}
	return 0
}

// ReasonCodeFor is the reason code a simulated decision with status
// carries ("" for none).
func ReasonCodeFor(status string) string {
	switch status {
	case "declined":
		return "102"
	case "resubmission_requested":
		return "103"
	}
	return ""
}

// reasons are the reason texts of the reason codes simulated decisions
// carry.
var reasons = map[string]string{
	"102": "Suspected document tampering",
	"103": "Face mismatch",
	"105": "Suspicious behaviour",
}

// Verification is the "verification" object of a decision webhook and of
// GET /v1/sessions/{id}/decision.
func Verification(sessionID, attemptID, userID, status string, decidedAt time.Time) map[string]any {
	return verification(sessionID, attemptID, userID, status, ReasonCodeFor(status), decidedAt)
}

// verification is Verification with any reason code; a zero decidedAt
// leaves the decision untimed.
func verification(sessionID, attemptID, userID, status, reasonCode string, decidedAt time.Time) map[string]any {
	var accepted time.Time
	if !decidedAt.IsZero() {
		accepted = decidedAt.Add(-3 * time.Minute)
	}
	var reason, code any
	if reasonCode != "" {
		code, _ = strconv.Atoi(reasonCode)
		reason = reasons[reasonCode]
	}
	return map[string]any{
		"id":        sessionID,
		"attemptId": attemptID,
		"code":      DecisionCode(status),
		"person": map[string]any{
			"firstName": sim.FirstName, "lastName": sim.LastName, "dateOfBirth": sim.DateOfBirth,
			"idNumber": nil, "gender": nil,
		},
		"reason":         reason,
		"status":         status,
		"comments":       []any{},
		"document":       map[string]any{"type": "PASSPORT", "number": sim.DocumentNumber, "country": "EE"},
		"reasonCode":     code,
		"vendorData":     userID,
		"endUserId":      nil,
		"decisionTime":   timestamp(decidedAt),
		"acceptanceTime": timestamp(accepted),
	}
}

// timestamp is Veriff's form of a time, with millisecond precision; null
// for none.
func timestamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// DecisionBody is a decision webhook body, compact as Veriff sends it.
func DecisionBody(sessionID, attemptID, userID, status string, decidedAt time.Time) []byte {
	return decisionBody(Verification(sessionID, attemptID, userID, status, decidedAt))
}

func decisionBody(v map[string]any) []byte {
	return sim.JSON(sim.Object{
		{Key: "status", Value: "success"},
		{Key: "verification", Value: v},
		{Key: "technicalData", Value: map[string]any{"ip": "192.0.2.10"}},
	})
}

// Event codes of the event webhooks.
const (
	Started   = 7001
	Submitted = 7002
)

// EventBody is an event webhook body (Started, Submitted).
func EventBody(sessionID, attemptID, userID string, code int) []byte {
	action := map[int]string{Started: "started", Submitted: "submitted"}[code]
	return sim.JSON(sim.Object{
		{Key: "id", Value: sessionID}, {Key: "attemptId", Value: attemptID}, {Key: "feature", Value: "selfid"},
		{Key: "code", Value: code}, {Key: "action", Value: action}, {Key: "vendorData", Value: userID}, {Key: "endUserId", Value: nil},
	})
}

// EndUserEventBody is an event webhook body that names the user only in
// endUserId, as sessions created with an end-user id and no vendorData do.
func EndUserEventBody(sessionID, attemptID, endUserID string, code int) []byte {
	action := map[int]string{Started: "started", Submitted: "submitted"}[code]
	return sim.JSON(sim.Object{
		{Key: "id", Value: sessionID}, {Key: "attemptId", Value: attemptID}, {Key: "feature", Value: "selfid"},
		{Key: "code", Value: code}, {Key: "action", Value: action}, {Key: "vendorData", Value: nil}, {Key: "endUserId", Value: endUserID},
	})
}

// ScreeningBody is a watchlist screening webhook body; checkType is
// "initial_result" or "updated_result". A zero at leaves it untimed.
func ScreeningBody(sessionID, attemptID, userID, checkType, matchStatus string, at time.Time) []byte {
	return sim.JSON(sim.Object{
		{Key: "checkType", Value: checkType}, {Key: "attemptId", Value: attemptID}, {Key: "sessionId", Value: sessionID},
		{Key: "vendorData", Value: userID}, {Key: "endUserId", Value: nil}, {Key: "matchStatus", Value: matchStatus},
		{Key: "searchTerm", Value: map[string]any{"name": sim.FirstName + " " + sim.LastName, "year": sim.DateOfBirth[:4]}},
		{Key: "totalHits", Value: 0}, {Key: "createdAt", Value: timestamp(at)}, {Key: "hits", Value: []any{}},
	})
}

// Scenario is a Veriff session for the simulator (`simulate veriff`).
type Scenario struct {
	Outcome   string // one of Outcomes
	UserID    string // default: one per session
	Events    bool   // also send the started and submitted events
	Watchlist bool   // also send a watchlist screening result
}

// Script implements sim.Scenario: the decision the API answers, then the
// events, the decision webhook and the screening, one step each.
func (sc Scenario) Script(now time.Time) (sim.Script, error) {
	if err := sim.OneOf("veriff outcome", sc.Outcome, Outcomes); err != nil {
		return sim.Script{}, err
	}
	id, attempt := sim.NewUUID(), sim.NewUUID()
	userID := sc.UserID
	if userID == "" {
		userID = "user-" + id[:8]
	}
	decided := now.UTC().Add(-time.Minute)
	s := sim.Script{Provider: Name, SessionID: id, UserID: userID, Want: sc.Outcome,
		API: sim.JSON(Verification(id, attempt, userID, sc.Outcome, decided))}
	if sc.Events {
		s.Steps = append(s.Steps, [][]byte{EventBody(id, attempt, userID, Started)}, [][]byte{EventBody(id, attempt, userID, Submitted)})
	}
	s.Steps = append(s.Steps, [][]byte{DecisionBody(id, attempt, userID, sc.Outcome, decided)})
	if sc.Watchlist {
		s.Steps = append(s.Steps, [][]byte{ScreeningBody(id, attempt, userID, "initial_result", "no_match", decided.Add(time.Second))})
	}
	return s, nil
}

// Generator implements sim.Generated.
func (Provider) Generator() sim.Generator { return generator{} }

// generator makes Veriff's webhooks of generated schedules.
type generator struct{}

func (generator) Draws() sim.Draws {
	return sim.Draws{
		Statuses:    Outcomes,
		ReasonCodes: []string{"", "", "102", "105"},
		// Words that differ from these only in case or punctuation
		// compare as bytes everywhere (R6).
		Screenings: []string{"no_match", "possible_match", "No_match", "no-match"},
		Untimed:    true,
		Lesser:     true,
	}
}

func (generator) Body(ev sim.Event) []byte {
	// The session's events share one attempt; each decision is its own.
	const attempt = "attempt"
	switch ev.Kind {
	case workflows.KindProgress, workflows.KindProcessed:
		code := map[workflows.Kind]int{workflows.KindProgress: Started, workflows.KindProcessed: Submitted}[ev.Kind]
		if ev.Lesser {
			return EndUserEventBody(ev.SessionID, attempt, ev.UserID, code)
		}
		return EventBody(ev.SessionID, attempt, ev.UserID, code)
	case workflows.KindDecision:
		return decisionBody(verification(ev.SessionID, attempt+"-"+strconv.Itoa(ev.N), ev.UserID, ev.Status, ev.ReasonCode, ev.At))
	case workflows.KindScreening:
		return ScreeningBody(ev.SessionID, attempt, ev.UserID, "updated_result", ev.Status, ev.At)
	case workflows.KindOther: // a feature idvflow does not model, naming the session
		return sim.JSON(sim.Object{
			{Key: "sessionId", Value: ev.SessionID}, {Key: "attemptId", Value: attempt}, {Key: "feature", Value: "ine"},
			{Key: "n", Value: ev.N}, {Key: "vendorData", Value: ev.UserID},
		})
	}
	return nil
}

func (generator) API(sessionID, userID string, _ time.Time, latest *sim.Event) []byte {
	if latest == nil {
		return nil // the session has no decision: "verification": null
	}
	return sim.JSON(verification(sessionID, "api", userID, latest.Status, latest.ReasonCode, latest.At))
}

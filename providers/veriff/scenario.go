package veriff

import (
	"strconv"
	"time"

	"github.com/idvflow/idvflow/providers/sim"
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

// Verification is the "verification" object of a decision webhook and of
// GET /v1/sessions/{id}/decision.
func Verification(sessionID, attemptID, userID, status string, decidedAt time.Time) map[string]any {
	var reason, reasonCode any
	if code := ReasonCodeFor(status); code != "" {
		reasonCode, _ = strconv.Atoi(code)
		reason = map[string]string{"102": "Physical document not used", "103": "Face mismatch"}[code]
	}
	return map[string]any{
		"id":        sessionID,
		"attemptId": attemptID,
		"code":      DecisionCode(status),
		"person": map[string]any{
			"firstName": sim.FirstName, "lastName": sim.LastName, "dateOfBirth": sim.DateOfBirth,
			"idNumber": nil, "gender": nil,
		},
		"reason":     reason,
		"status":     status,
		"comments":   []any{},
		"document":   map[string]any{"type": "PASSPORT", "number": sim.DocumentNumber, "country": "EE"},
		"reasonCode": reasonCode,
		"vendorData": userID,
		"endUserId":  nil,
		// Veriff's timestamps have millisecond precision.
		"decisionTime":   decidedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		"acceptanceTime": decidedAt.Add(-3 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"),
	}
}

// DecisionBody is a decision webhook body, compact as Veriff sends it.
func DecisionBody(sessionID, attemptID, userID, status string, decidedAt time.Time) []byte {
	return sim.JSON(sim.Object{
		{Key: "status", Value: "success"},
		{Key: "verification", Value: Verification(sessionID, attemptID, userID, status, decidedAt)},
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

// ScreeningBody is a watchlist screening webhook body; checkType is
// "initial_result" or "updated_result".
func ScreeningBody(sessionID, attemptID, userID, checkType, matchStatus string, at time.Time) []byte {
	return sim.JSON(sim.Object{
		{Key: "checkType", Value: checkType}, {Key: "attemptId", Value: attemptID}, {Key: "sessionId", Value: sessionID},
		{Key: "vendorData", Value: userID}, {Key: "endUserId", Value: nil}, {Key: "matchStatus", Value: matchStatus},
		{Key: "searchTerm", Value: map[string]any{"name": sim.FirstName + " " + sim.LastName, "year": sim.DateOfBirth[:4]}},
		{Key: "totalHits", Value: 0}, {Key: "createdAt", Value: at.UTC().Format("2006-01-02T15:04:05.000Z")}, {Key: "hits", Value: []any{}},
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

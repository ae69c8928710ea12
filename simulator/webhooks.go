// Package simulator builds provider webhooks byte for byte as Veriff and
// Passbase send them (signed or encrypted), and the API objects the
// emulator answers with, so tests and `go run ./cmd/simulate` exercise
// idvflow exactly as the providers would.
//
// The personal data in these payloads is made up; it is there so tests can
// prove it never reaches Temporal or the logs.
package simulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	veriffp "github.com/idvflow/idvflow/providers/veriff"
)

// Made-up personal data carried by simulated payloads.
const (
	FakeFirstName      = "SIMONA"
	FakeLastName       = "TESTPERSON"
	FakeDateOfBirth    = "1981-02-03"
	FakeDocumentNumber = "SIMDOC4711X"
)

// VeriffCode is Veriff's decision code for a status.
func VeriffCode(status string) int {
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

// VeriffVerification is the "verification" object of a decision webhook and
// of GET /v1/sessions/{id}/decision.
func VeriffVerification(sessionID, attemptID, userID, status string, decidedAt time.Time) map[string]any {
	var reason, reasonCode any
	switch status {
	case "declined":
		reason, reasonCode = "Physical document not used", 102
	case "resubmission_requested":
		reason, reasonCode = "Face mismatch", 103
	}
	return map[string]any{
		"id":        sessionID,
		"attemptId": attemptID,
		"code":      VeriffCode(status),
		"person": map[string]any{
			"firstName": FakeFirstName, "lastName": FakeLastName, "dateOfBirth": FakeDateOfBirth,
			"idNumber": nil, "gender": nil,
		},
		"reason":     reason,
		"status":     status,
		"comments":   []any{},
		"document":   map[string]any{"type": "PASSPORT", "number": FakeDocumentNumber, "country": "EE"},
		"reasonCode": reasonCode,
		"vendorData": userID,
		"endUserId":  nil,
		// Veriff's timestamps have millisecond precision.
		"decisionTime":   decidedAt.UTC().Format("2006-01-02T15:04:05.000Z"),
		"acceptanceTime": decidedAt.Add(-3 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"),
	}
}

// VeriffDecision is a decision webhook body, compact as Veriff sends it.
func VeriffDecision(sessionID, attemptID, userID, status string, decidedAt time.Time) []byte {
	return mustJSON(orderedObject{
		{"status", "success"},
		{"verification", VeriffVerification(sessionID, attemptID, userID, status, decidedAt)},
		{"technicalData", map[string]any{"ip": "192.0.2.10"}},
	})
}

// VeriffEvent is an event webhook body (7001 started, 7002 submitted).
func VeriffEvent(sessionID, attemptID, userID string, code int, action string) []byte {
	return mustJSON(orderedObject{
		{"id", sessionID}, {"attemptId", attemptID}, {"feature", "selfid"},
		{"code", code}, {"action", action}, {"vendorData", userID}, {"endUserId", nil},
	})
}

// VeriffScreening is a watchlist screening webhook body.
func VeriffScreening(sessionID, attemptID, userID, checkType, matchStatus string, at time.Time) []byte {
	return mustJSON(orderedObject{
		{"checkType", checkType}, {"attemptId", attemptID}, {"sessionId", sessionID},
		{"vendorData", userID}, {"endUserId", nil}, {"matchStatus", matchStatus},
		{"searchTerm", map[string]any{"name": FakeFirstName + " " + FakeLastName, "year": FakeDateOfBirth[:4]}},
		{"totalHits", 0}, {"createdAt", at.UTC().Format("2006-01-02T15:04:05.000Z")}, {"hits", []any{}},
	})
}

// VeriffSign is the X-HMAC-SIGNATURE of body.
func VeriffSign(secret string, body []byte) string {
	return veriffp.Sign([]byte(secret), body)
}

// Passbase event vocabularies.
const (
	VocabularyLegacy = "legacy" // AUTHENTICATION_*
	VocabularyNew    = "new"    // VERIFICATION_*
)

// PassbaseProcessed is the "processing finished" event. In the newer
// vocabulary its status is "pending" (or the decision, with auto-decisions).
func PassbaseProcessed(vocabulary, key, userID, status string, created, updated time.Time) []byte {
	if vocabulary == VocabularyLegacy {
		return passbaseLegacy("AUTHENTICATION_PROCESSED", key, userID, nil, created, updated)
	}
	return passbaseNew("VERIFICATION_COMPLETED", key, status, created, updated)
}

// PassbaseReviewed is the decision event (approved or declined).
func PassbaseReviewed(vocabulary, key, userID, status string, created, updated time.Time) []byte {
	if vocabulary == VocabularyLegacy {
		approved := status == "approved"
		return passbaseLegacy("AUTHENTICATION_REVIEW_STATUS_CHANGED", key, userID, &approved, created, updated)
	}
	return passbaseNew("VERIFICATION_REVIEWED", key, status, created, updated)
}

func passbaseLegacy(event, key, userID string, reviewStatus *bool, created, updated time.Time) []byte {
	var rs any
	if reviewStatus != nil {
		rs = *reviewStatus
	}
	return mustJSON(orderedObject{
		{"event", event}, {"authentication_key", key}, {"review_status", rs},
		{"created_at", created.Unix()}, {"updated_at", updated.Unix()}, {"integration_type", "signup"},
		{"additional_attributes", orderedObject{
			{"identifier", "simona.testperson@example.com"}, {"identifier_type", "email"}, {"customer_user_id", userID},
		}},
		{"reauthenticated_from_key", nil}, {"watchlist", nil},
	})
}

func passbaseNew(event, key, status string, created, updated time.Time) []byte {
	return mustJSON(orderedObject{
		{"event", event}, {"key", key}, {"status", status},
		{"created", created.Unix()}, {"updated", updated.Unix()}, {"processed", updated.Unix()},
	})
}

// PassbaseIdentity is what GET /identities/{id} answers.
func PassbaseIdentity(key, userID, status string, created, updated time.Time) []byte {
	return mustJSON(orderedObject{
		{"id", key}, {"status", status},
		{"owner", map[string]any{"email": "simona.testperson@example.com", "first_name": FakeFirstName, "last_name": FakeLastName}},
		{"score", 0.93}, {"created", created.Unix()}, {"updated", updated.Unix()},
		{"resources", []any{map[string]any{"type": "PASSPORT", "datapoints": map[string]any{
			"date_of_birth": FakeDateOfBirth, "document_number": FakeDocumentNumber,
			"first_names": FakeFirstName, "last_name": FakeLastName,
		}}}},
		{"metadata", map[string]any{"customer_user_id": userID}},
		{"watchlist", map[string]any{"clean": true}},
	})
}

// orderedObject marshals its fields in order, as the providers do.
type orderedObject []field

type field struct {
	key   string
	value any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	out := []byte{'{'}
	for i, f := range o {
		if i > 0 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(f.key)
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		out = append(append(append(out, k...), ':'), v...)
	}
	return append(out, '}'), nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("simulator: marshal: %v", err)) // only plain values above
	}
	return b
}

// NewUUID returns a random (version 4) UUID, the form of the providers' ids.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

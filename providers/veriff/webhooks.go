package veriff

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Webhooks checks Veriff's X-AUTH-CLIENT and X-HMAC-SIGNATURE headers: the
// client key picks the integration, whose shared secrets must sign the body.
type Webhooks struct {
	integrations []Integration
}

// NewWebhooks returns a Webhooks for one integration: apiKey and a signature under
// any one of secrets (more than one while a secret is rotated).
func NewWebhooks(apiKey string, secrets []string) *Webhooks {
	return NewIntegrations(Integration{Name: DefaultIntegration, APIKey: apiKey, SharedSecrets: secrets})
}

// NewIntegrations returns a Webhooks for several integrations (a web and a
// mobile app, each with its own API key and secrets).
func NewIntegrations(integrations ...Integration) *Webhooks {
	return &Webhooks{integrations: integrations}
}

// Name implements webhook.Provider.
func (*Webhooks) Name() string { return Name }

// Types implements webhook.Provider.
func (*Webhooks) Types() []string {
	return []string{"decision", "fullauto", "event:started", "event:submitted", "watchlist:initial_result", "watchlist:updated_result"}
}

// Authenticate verifies the signature over the body exactly as received.
func (p *Webhooks) Authenticate(h http.Header, body []byte) ([]byte, error) {
	plain, _, err := p.AuthenticateIntegration(h, body)
	return plain, err
}

// AuthenticateIntegration implements webhook.Integrated: it also names the
// integration whose API key the request carries. The key is only a name;
// it is believed because the body's signature under that integration's
// secret checked.
func (p *Webhooks) AuthenticateIntegration(h http.Header, body []byte) ([]byte, string, error) {
	in, err := p.verify(h, body)
	if err != nil {
		// The reason names the check for the operator's log; the answer is
		// the same for every cause.
		return nil, "", fmt.Errorf("%w: %v", webhook.ErrUnauthenticated, err)
	}
	return body, in.Name, nil
}

// verify returns the integration whose key the request carries and whose
// secrets signed body.
func (p *Webhooks) verify(h http.Header, body []byte) (Integration, error) {
	in, ok := Find(p.integrations, firstHeader(h, "X-Auth-Client", "Vrf-Auth-Client"))
	if !ok {
		return Integration{}, fmt.Errorf("client key (X-AUTH-CLIENT) is not VERIFF_API_KEY nor the API key of an integration in VERIFF_INTEGRATIONS")
	}
	sig := firstHeader(h, "X-Hmac-Signature", "Vrf-Hmac-Signature")
	if b, err := hex.DecodeString(sig); err != nil || len(b) != sha256.Size {
		return Integration{}, fmt.Errorf("signature (X-HMAC-SIGNATURE) is not 64 hex digits")
	}
	if !in.Verifies(body, sig) {
		_, secretsVar := in.Vars()
		return Integration{}, fmt.Errorf("signature matches none of %s", secretsVar)
	}
	return in, nil
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// payload holds the fields of every Veriff webhook type that idvflow reads.
// Person, document, address and IP fields are deliberately absent: they
// are personal data and are never decoded.
type payload struct {
	// Decision webhook.
	Verification *struct {
		ID             string          `json:"id"`
		AttemptID      string          `json:"attemptId"`
		Status         string          `json:"status"`
		Code           json.Number     `json:"code"`
		ReasonCode     json.RawMessage `json:"reasonCode"`
		VendorData     *string         `json:"vendorData"`
		EndUserID      *string         `json:"endUserId"`
		DecisionTime   string          `json:"decisionTime"`
		AcceptanceTime string          `json:"acceptanceTime"`
	} `json:"verification"`

	// Event webhook (id, code, action, feature), and ids shared by others.
	ID         string      `json:"id"`
	AttemptID  string      `json:"attemptId"`
	Code       json.Number `json:"code"`
	Action     string      `json:"action"`
	Feature    string      `json:"feature"`
	VendorData *string     `json:"vendorData"`
	EndUserID  *string     `json:"endUserId"`

	// Watchlist screening webhook.
	CheckType   string `json:"checkType"`
	SessionID   string `json:"sessionId"`
	MatchStatus string `json:"matchStatus"`
	CreatedAt   string `json:"createdAt"`

	// Full auto webhook.
	EventType string `json:"eventType"`
	Data      *struct {
		Verification *struct {
			Decision string `json:"decision"`
		} `json:"verification"`
	} `json:"data"`
}

// Parse maps an authentic Veriff webhook to the workflow's event.
func (p *Webhooks) Parse(body []byte) (workflows.Event, error) {
	var pl payload
	var malformed *webhook.MalformedError
	if err := webhook.Unmarshal(body, &pl); errors.As(err, &malformed) {
		return workflows.Event{}, err
	} else if err != nil {
		return workflows.Event{}, webhook.Malformed("body is not a JSON object of a Veriff webhook")
	}
	var (
		ev  workflows.Event
		err error
	)
	switch {
	case pl.Verification != nil:
		ev, err = decisionEvent(pl)
	case pl.EventType == "fullauto":
		ev, err = fullAutoEvent(pl)
	case pl.CheckType != "":
		ev, err = screeningEvent(pl, body)
	case pl.Action != "" && pl.Code != "":
		ev, err = flowEvent(pl)
	default:
		ev, err = otherEvent(pl, body)
	}
	if err != nil {
		return workflows.Event{}, err
	}
	ev.Provider = Name
	if err := webhook.CheckSessionID(ev.SessionID); err != nil {
		return workflows.Event{}, err
	}
	// What the receiver would refuse is refused here already.
	if err := ev.Validate(); err != nil {
		return workflows.Event{}, webhook.Malformed("%v", err)
	}
	return ev, nil
}

func decisionEvent(pl payload) (workflows.Event, error) {
	v := pl.Verification
	if v.Status == "" {
		return workflows.Event{}, webhook.Malformed("decision without verification.status")
	}
	at := parseTime(v.DecisionTime)
	if at.IsZero() {
		at = parseTime(v.AcceptanceTime)
	}
	ev := workflows.Event{
		ID:             "decision/" + v.AttemptID + "/" + v.Status + "/" + at.Format(time.RFC3339Nano),
		SessionID:      v.ID,
		Type:           "decision",
		Kind:           workflows.KindDecision,
		Decision:       workflows.NormalizeStatus(v.Status),
		ProviderStatus: v.Status,
		ReasonCode:     webhook.Scalar(v.ReasonCode),
		OccurredAt:     at,
		AttemptID:      v.AttemptID,
	}
	ev.UserID, ev.UserIDSource = userID(v.VendorData, v.EndUserID)
	return ev, nil
}

func fullAutoEvent(pl payload) (workflows.Event, error) {
	if pl.Data == nil || pl.Data.Verification == nil || pl.Data.Verification.Decision == "" {
		return workflows.Event{}, webhook.Malformed("full auto webhook without data.verification.decision")
	}
	d := pl.Data.Verification.Decision
	ev := workflows.Event{
		ID:             "fullauto/" + pl.AttemptID + "/" + d,
		SessionID:      pl.SessionID,
		Type:           "fullauto",
		Kind:           workflows.KindDecision,
		Decision:       workflows.NormalizeStatus(d),
		ProviderStatus: d,
		AttemptID:      pl.AttemptID,
	}
	ev.UserID, ev.UserIDSource = userID(pl.VendorData, pl.EndUserID)
	return ev, nil
}

// Veriff event codes that mean something to the session.
const (
	codeStarted   = "7001"
	codeSubmitted = "7002"
)

func flowEvent(pl payload) (workflows.Event, error) {
	kind := workflows.KindProgress
	if pl.Code.String() == codeSubmitted {
		kind = workflows.KindProcessed
	}
	ev := workflows.Event{
		ID:             "event/" + pl.AttemptID + "/" + pl.Code.String(),
		SessionID:      pl.ID,
		Type:           "event:" + pl.Action,
		Kind:           kind,
		ProviderStatus: pl.Action,
		AttemptID:      pl.AttemptID,
	}
	ev.UserID, ev.UserIDSource = userID(pl.VendorData, pl.EndUserID)
	return ev, nil
}

func screeningEvent(pl payload, body []byte) (workflows.Event, error) {
	ev := workflows.Event{
		// Ongoing monitoring re-sends updated results for the same attempt,
		// so the body itself is the identity of a screening result.
		ID:             "screening/" + bodyDigest(body),
		SessionID:      pl.SessionID,
		Type:           "watchlist:" + pl.CheckType,
		Kind:           workflows.KindScreening,
		ProviderStatus: pl.MatchStatus,
		OccurredAt:     parseTime(pl.CreatedAt),
		AttemptID:      pl.AttemptID,
	}
	ev.UserID, ev.UserIDSource = userID(pl.VendorData, pl.EndUserID)
	return ev, nil
}

// otherEvent records a type idvflow does not model (INE, CURP, user-defined
// statuses, types Veriff adds later) on its session, if it names one.
func otherEvent(pl payload, body []byte) (workflows.Event, error) {
	session := pl.SessionID
	if session == "" {
		session = pl.ID
	}
	if session == "" {
		return workflows.Event{}, webhook.ErrIgnored
	}
	ev := workflows.Event{
		ID:        "other/" + bodyDigest(body),
		SessionID: session,
		Type:      "other",
		Kind:      workflows.KindOther,
		AttemptID: pl.AttemptID,
	}
	ev.UserID, ev.UserIDSource = userID(pl.VendorData, pl.EndUserID)
	return ev, nil
}

// userID is Veriff's vendorData, else endUserId, with the field it came from.
func userID(vendorData, endUserID *string) (string, string) {
	if vendorData != nil && *vendorData != "" {
		return *vendorData, "vendorData"
	}
	if endUserID != nil && *endUserID != "" {
		return *endUserID, "endUserId"
	}
	return "", ""
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func bodyDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:16])
}

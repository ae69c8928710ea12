package passbase

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// KeySize is the length of a webhook secret: it is the AES-256 key itself.
const KeySize = 32

// Webhooks decrypts Passbase's webhook bodies.
type Webhooks struct {
	blocks           []cipher.Block
	allowUnencrypted bool
}

// NewWebhooks returns a Webhooks that decrypts with any one of secrets (32 bytes
// each; more than one while a secret is rotated). With allowUnencrypted,
// plain application/json bodies are accepted too: Passbase sends those only
// when no secret is configured, so it is off unless asked for.
func NewWebhooks(secrets []string, allowUnencrypted bool) (*Webhooks, error) {
	if allowUnencrypted && len(secrets) > 0 {
		// Plain bodies next to secrets would let anyone skip decryption.
		return nil, errors.New("PASSBASE_ALLOW_UNENCRYPTED cannot go with PASSBASE_WEBHOOK_SECRETS")
	}
	p := &Webhooks{allowUnencrypted: allowUnencrypted}
	for i, s := range secrets {
		if len(s) != KeySize {
			return nil, &keyError{index: i, length: len(s)}
		}
		b, err := aes.NewCipher([]byte(s))
		if err != nil {
			return nil, &keyError{index: i, length: len(s)}
		}
		p.blocks = append(p.blocks, b)
	}
	return p, nil
}

type keyError struct{ index, length int }

func (e *keyError) Error() string {
	return "PASSBASE_WEBHOOK_SECRETS: secret #" + strconv.Itoa(e.index+1) +
		" is " + strconv.Itoa(e.length) + " bytes; each must be exactly 32 (it is the AES-256 key)"
}

// Name implements webhook.Provider.
func (*Webhooks) Name() string { return Name }

// Types implements webhook.Provider.
func (*Webhooks) Types() []string {
	return []string{"AUTHENTICATION_PROCESSED", "AUTHENTICATION_REVIEW_STATUS_CHANGED", "VERIFICATION_COMPLETED", "VERIFICATION_REVIEWED",
		"DATAPOINT_UPDATED", "IDENTITY_AUTHENTICATED", "WATCHLIST_MONITORING"}
}

// Authenticate decrypts the body. Every failure (base64, length, key,
// padding, not JSON) is the same ErrUnauthenticated.
func (p *Webhooks) Authenticate(h http.Header, body []byte) ([]byte, error) {
	if p.allowUnencrypted && isJSON(h.Get("Content-Type")) {
		return body, nil
	}
	if plain, ok := p.Decrypt(body); ok {
		return plain, nil
	}
	return nil, errNotDecrypted
}

// errNotDecrypted names the failed check for the operator's log.
var errNotDecrypted = fmt.Errorf("%w: body does not decrypt under any of PASSBASE_WEBHOOK_SECRETS", webhook.ErrUnauthenticated)

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// Decrypt opens base64(IV || AES-256-CBC(PKCS#7)) under any configured key.
// CBC has no MAC: what tells the right key from a wrong one is valid padding
// and a plaintext that is a JSON object. A wrong key gives valid padding and
// a {…} shape about once in 2^24 tries, so the shape alone would take a
// genuine body sealed under a later key for one under an earlier key, and
// refuse it (and every redelivery of it): the JSON is checked in full, and
// the next key tried when it is not JSON.
func (p *Webhooks) Decrypt(body []byte) ([]byte, bool) {
	body = bytes.TrimSpace(body)
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(body)))
	n, err := base64.StdEncoding.Decode(raw, body)
	if err != nil {
		return nil, false
	}
	raw = raw[:n]
	if len(raw) < 2*aes.BlockSize || len(raw)%aes.BlockSize != 0 {
		return nil, false
	}
	iv, ct := raw[:aes.BlockSize], raw[aes.BlockSize:]
	plain := make([]byte, len(ct))
	for _, b := range p.blocks {
		cipher.NewCBCDecrypter(b, iv).CryptBlocks(plain, ct)
		if out, ok := unpad(plain); ok && objectShaped(out) && json.Valid(out) {
			return out, true
		}
	}
	return nil, false
}

// objectShaped reports whether b starts with '{' and ends with '}', ignoring
// JSON white space.
func objectShaped(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}'
}

// unpad strips PKCS#7 padding. Whether padding or the JSON check fails,
// the caller answers the same, so the receiver is no padding oracle.
func unpad(b []byte) ([]byte, bool) {
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, false
	}
	if subtle.ConstantTimeCompare(b[len(b)-n:], bytes.Repeat([]byte{byte(n)}, n)) != 1 {
		return nil, false
	}
	return b[:len(b)-n], true
}

// payload holds the fields of both vocabularies that idvflow reads. The
// owner's identifier (an email) and other personal data are not decoded.
type payload struct {
	Event string `json:"event"`
	// Older vocabulary.
	AuthenticationKey    string          `json:"authentication_key"`
	ReviewStatus         json.RawMessage `json:"review_status"`
	CreatedAt            int64           `json:"created_at"`
	UpdatedAt            int64           `json:"updated_at"`
	AdditionalAttributes *struct {
		CustomerUserID json.RawMessage `json:"customer_user_id"`
	} `json:"additional_attributes"`
	// Newer vocabulary.
	Key       string `json:"key"`
	Status    string `json:"status"`
	Created   int64  `json:"created"`
	Updated   int64  `json:"updated"`
	Processed int64  `json:"processed"`
}

// Parse maps an authentic Passbase event to the workflow's event.
func (p *Webhooks) Parse(body []byte) (workflows.Event, error) {
	var pl payload
	var malformed *webhook.MalformedError
	if err := webhook.Unmarshal(body, &pl); errors.As(err, &malformed) {
		return workflows.Event{}, err
	} else if err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			// Decrypted bytes that are not JSON came from a wrong key or a
			// forged body: not authentic, and answered like every such case.
			return workflows.Event{}, fmt.Errorf("%w: decrypted body is not JSON (a wrong key)", webhook.ErrUnauthenticated)
		}
		return workflows.Event{}, webhook.Malformed("body is not a JSON object of a Passbase event")
	}
	key := pl.Key
	if key == "" {
		key = pl.AuthenticationKey
	}
	ev := workflows.Event{
		Provider:       Name,
		SessionID:      key,
		Type:           pl.Event,
		ProviderStatus: strings.ToLower(pl.Status),
		OccurredAt:     UnixTime(first(pl.Updated, pl.UpdatedAt, pl.Processed, pl.Created, pl.CreatedAt)),
	}
	switch pl.Event {
	case "AUTHENTICATION_PROCESSED":
		ev.Kind = workflows.KindProcessed
	case "VERIFICATION_COMPLETED":
		// With auto-decisions on, "completed" already carries the decision;
		// otherwise its status is "pending": awaiting review, non-final.
		ev.Kind = workflows.KindProcessed
		ev.Decision = decision(ev.ProviderStatus)
	case "AUTHENTICATION_REVIEW_STATUS_CHANGED":
		ev.ProviderStatus = reviewStatus(pl.ReviewStatus)
		ev.Kind = workflows.KindDecision
		ev.Decision = decision(ev.ProviderStatus)
	case "VERIFICATION_REVIEWED":
		ev.Kind = workflows.KindDecision
		ev.Decision = decision(ev.ProviderStatus)
	case "WATCHLIST_MONITORING":
		// A monitoring hit puts the identity back to review ("pending").
		ev.Kind = workflows.KindScreening
		ev.Decision = decision(ev.ProviderStatus)
	case "IDENTITY_AUTHENTICATED":
		ev.Kind = workflows.KindProgress
	case "":
		return workflows.Event{}, webhook.Malformed("no event name")
	default: // DATAPOINT_UPDATED and events Passbase adds later
		ev.Kind = workflows.KindOther
		if key == "" {
			return workflows.Event{}, webhook.ErrIgnored
		}
	}
	if ev.Kind == workflows.KindDecision && ev.Decision == "" {
		return workflows.Event{}, webhook.Malformed("%s without a decision status", pl.Event)
	}
	if err := webhook.CheckSessionID(key); err != nil {
		return workflows.Event{}, err
	}
	ev.ID = strings.Join([]string{pl.Event, key, strconv.FormatInt(ev.OccurredAt.Unix(), 10), ev.ProviderStatus}, "/")
	if pl.AdditionalAttributes != nil {
		if id := webhook.Scalar(pl.AdditionalAttributes.CustomerUserID); id != "" {
			ev.UserID, ev.UserIDSource = id, "additional_attributes.customer_user_id"
		}
	}
	// What the receiver would refuse is refused here already.
	if err := ev.Validate(); err != nil {
		return workflows.Event{}, webhook.Malformed("%v", err)
	}
	return ev, nil
}

// decision maps a Passbase status to a decision; "created" and
// "processing" are not decisions.
func decision(status string) workflows.Status {
	switch status {
	case "approved", "declined", "pending":
		return workflows.NormalizeStatus(status)
	}
	return ""
}

// reviewStatus reads the older vocabulary's review_status: true is approved,
// false declined, null none. A string status is accepted as well.
func reviewStatus(raw json.RawMessage) string {
	switch s := strings.ToLower(webhook.Scalar(raw)); s {
	case "true":
		return "approved"
	case "false":
		return "declined"
	default:
		return s
	}
}

func first(vs ...int64) int64 {
	for _, v := range vs {
		if v > 0 {
			return v
		}
	}
	return 0
}

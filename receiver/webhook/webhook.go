// Package webhook is the contract between the receiver's HTTP edge and each
// provider package: authenticate the raw bytes, then parse them into the
// workflow's event. Each provider package under providers/ implements
// Provider.
package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/idvflow/idvflow/workflows"
)

var (
	// ErrUnauthenticated: the request is not provably from the provider.
	// Every cause gets the same answer, so the receiver leaks nothing about
	// which check failed (and is no padding oracle for an encrypted body).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrIgnored: authentic, but of a type idvflow does not model and
	// cannot route to a session. It is acknowledged, never refused.
	ErrIgnored = errors.New("webhook type not modelled")
	// ErrStale: a genuine signature whose signed time is outside the
	// provider's tolerance of the receiver's clock (a replay, or a
	// delivery held up). It always comes wrapped with ErrUnauthenticated,
	// so the answer is the same; the receiver counts it apart, since a
	// rise in it means a clock or a replay, not a wrong secret.
	ErrStale = errors.New("signature outside its time tolerance")
)

// MalformedError is an authentic payload that cannot be used. Its reason is
// safe to show to the sender: it never quotes the payload.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "malformed payload: " + e.Reason }

// Malformed returns a *MalformedError.
func Malformed(format string, args ...any) error {
	return &MalformedError{Reason: fmt.Sprintf(format, args...)}
}

// Provider authenticates and parses one provider's webhooks.
type Provider interface {
	// Name is the provider's name in routes, workflow IDs and metrics.
	Name() string
	// Authenticate checks the request and returns the JSON body: the body
	// itself (signed) or its decryption (encrypted). Any failure is
	// ErrUnauthenticated.
	Authenticate(header http.Header, body []byte) ([]byte, error)
	// Parse maps the authentic JSON to the workflow's event. It returns
	// ErrIgnored or a *MalformedError when there is nothing to signal, and
	// ErrUnauthenticated when the bytes turn out not to be authentic after
	// all (a decrypted body that is not JSON).
	Parse(body []byte) (workflows.Event, error)
	// Types names the webhook types the provider models, a fixed set: the
	// receiver's metrics label these by name and any other type "other".
	Types() []string
}

// Integrated is implemented by providers that serve several integrations
// (accounts): authenticating a request finds the integration whose
// credentials it carries, and says which, so the receiver looks it up once.
type Integrated interface {
	// AuthenticateIntegration is Authenticate that also names the
	// integration.
	AuthenticateIntegration(header http.Header, body []byte) (plain []byte, integration string, err error)
}

// Authenticate authenticates a request to p, with the integration it
// belongs to when p is Integrated ("" otherwise).
func Authenticate(p Provider, header http.Header, body []byte) (plain []byte, integration string, err error) {
	if in, ok := p.(Integrated); ok {
		return in.AuthenticateIntegration(header, body)
	}
	plain, err = p.Authenticate(header, body)
	return plain, "", err
}

// CheckSessionID rejects session ids that cannot be a provider's id (they
// are UUIDs): empty, over 128 characters, not starting with a letter or
// digit, or with characters outside [A-Za-z0-9._-]. It keeps workflow IDs,
// logs and URLs clean.
func CheckSessionID(id string) error {
	if id == "" {
		return Malformed("no session id")
	}
	ok := len(id) <= 128 && isAlnum(id[0])
	for i := 1; ok && i < len(id); i++ {
		c := id[i]
		ok = isAlnum(c) || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return Malformed("session id is not a provider id (1-128 characters of A-Z a-z 0-9 . _ -)")
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// Scalar renders a JSON string, number or boolean as text; null, absent,
// objects and arrays are "". Providers send ids and codes as either strings
// or numbers; nothing larger is ever carried into the workflow.
func Scalar(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" || strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
		return ""
	}
	if strings.HasPrefix(s, `"`) {
		// JSON's escapes (\/, surrogate pairs) are not Go's: decode as JSON.
		var u string
		if err := json.Unmarshal([]byte(s), &u); err == nil {
			return u
		}
	}
	return s
}

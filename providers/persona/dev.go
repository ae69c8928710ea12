package persona

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/idvflow/idvflow/emulator"
)

// This file is Persona's part of the development tools: its public dev
// credentials, how a simulated event is signed, and its emulated API.

// Dev credentials, made up for idvflow and public: never use them outside
// development. DevNextWebhookSecret is the secret a rotation moves to
// (`simulate persona --rotate` signs with both, as Persona does while it
// rotates); the dev stack knows only DevWebhookSecret.
const (
	DevWebhookSecret     = "wbhsec_idvflow-dev-persona-public-1"
	DevNextWebhookSecret = "wbhsec_idvflow-dev-persona-public-2"
	DevAPIKey            = "persona_sandbox_idvflow-dev-public-key"
)

// DevEnv implements providers.Provider: the dev credentials, and the API
// at the emulator.
func (Provider) DevEnv(emulatorURL string) map[string]string {
	return map[string]string{
		"PERSONA_WEBHOOK_SECRETS": DevWebhookSecret,
		"PERSONA_API_KEY":         DevAPIKey,
		"PERSONA_BASE_URL":        emulatorURL,
	}
}

// Seal implements providers.Config: body signed now, as Persona sends it,
// with the first webhook secret.
func (c *Config) Seal(body []byte) (http.Header, []byte, error) {
	return c.SealAt(body, time.Now())
}

// SealAt is Seal as if sent at at (sim.Stamped): a stale signature for
// the tests and the generated schedules.
func (c *Config) SealAt(body []byte, at time.Time) (http.Header, []byte, error) {
	h := http.Header{"Content-Type": {"application/json"}}
	if len(c.WebhookSecrets) > 0 {
		h.Set(SignatureHeader, Header(at, body, []byte(c.WebhookSecrets[0])))
	}
	return h, body, nil
}

// SealRotating is Seal while Persona rotates the secret from the
// configuration's first to next: two sets, the new secret's first.
func (c *Config) SealRotating(body []byte, next string) (http.Header, []byte, error) {
	h, body, err := c.Seal(body)
	if err == nil && len(c.WebhookSecrets) > 0 {
		h.Set(SignatureHeader, Header(time.Now(), body, []byte(next), []byte(c.WebhookSecrets[0])))
	}
	return h, body, err
}

// Emulate implements providers.Config: GET /api/v1/inquiries/{id} as
// Persona answers it, for this configuration's API key, with the inquiry
// stored for the session under Name (its JSON:API resource object).
func (c *Config) Emulate(e *emulator.Emulator) {
	e.Handle("GET /api/v1/inquiries/{id}", func(w http.ResponseWriter, r *http.Request, id string) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || c.APIKey == "" || subtle.ConstantTimeCompare([]byte(token), []byte(c.APIKey)) != 1 {
			emulator.WriteJSON(w, http.StatusUnauthorized, failure("Unauthorized", "Must be authenticated to access this endpoint"))
			return
		}
		inq, ok := e.Object(Name, id)
		if !ok || len(inq) == 0 {
			emulator.WriteJSON(w, http.StatusNotFound, failure("Record not found", "Could not find inquiry"))
			return
		}
		emulator.WriteRaw(w, http.StatusOK, []byte(`{"data":`+string(inq)+`,"included":[]}`))
	})
}

// failure is a JSON:API error document, as Persona answers errors.
func failure(title, details string) map[string]any {
	return map[string]any{"errors": []map[string]string{{"title": title, "details": details}}}
}

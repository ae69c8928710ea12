package passbase

import (
	"crypto/subtle"
	"net/http"
	"regexp"

	"github.com/idvflow/idvflow/emulator"
)

// This file is Passbase's part of the development tools: its public dev
// credentials, how a simulated webhook is encrypted, and its emulated API.

// Dev credentials: the webhook secret of the test vectors, and a made-up
// API key. They are public: never use them outside development.
const (
	DevWebhookSecret = "passbase-demo-webhook-secret-32b"
	DevAPIKey        = "dev-passbase-secret-api-key"
)

// DevEnv implements providers.Provider: the dev credentials, and the API
// at the emulator.
func (Provider) DevEnv(emulatorURL string) map[string]string {
	return map[string]string{
		"PASSBASE_WEBHOOK_SECRETS": DevWebhookSecret,
		"PASSBASE_API_KEY":         DevAPIKey,
		"PASSBASE_BASE_URL":        emulatorURL + "/verification/v2",
	}
}

// Seal implements providers.Config: body encrypted as Passbase sends it,
// with the first webhook secret; plain JSON when there is none.
func (c *Config) Seal(body []byte) (http.Header, []byte, error) {
	if len(c.WebhookSecrets) == 0 {
		return http.Header{"Content-Type": {"application/json"}}, body, nil
	}
	enc, err := Encrypt(c.WebhookSecrets[0], body)
	if err != nil {
		return nil, nil, err
	}
	return http.Header{"Content-Type": {"text/plain"}}, enc, nil
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Emulate implements providers.Config: GET /verification/v2/identities/{id}
// as the Verification API answers it, for this configuration's API key. It
// serves the identity stored for the session under Name.
func (c *Config) Emulate(e *emulator.Emulator) {
	e.Handle("GET /verification/v2/identities/{id}", func(w http.ResponseWriter, r *http.Request, id string) {
		if c.APIKey == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("X-API-KEY")), []byte(c.APIKey)) != 1 {
			emulator.WriteJSON(w, http.StatusUnauthorized, map[string]string{"message": "your api_key is invalid"})
			return
		}
		if !uuidPattern.MatchString(id) {
			emulator.WriteJSON(w, http.StatusBadRequest, map[string]string{"message": "bad input parameter: id must be a UUID"})
			return
		}
		ident, ok := e.Object(Name, id)
		if !ok {
			emulator.WriteJSON(w, http.StatusNotFound, map[string]string{"message": "identity not found with the given ID"})
			return
		}
		emulator.WriteRaw(w, http.StatusOK, ident)
	})
}

package veriff

import (
	"net/http"

	"github.com/idvflow/idvflow/emulator"
)

// This file is Veriff's part of the development tools: its public dev
// credentials, how a simulated webhook is signed, and its emulated API.

// Dev credentials: the Veriff seed guide's mock pair, so the guide's curl
// example works unchanged against `go run ./cmd/dev`. They are public:
// never use them outside development.
const (
	DevAPIKey       = "8e4f7cd8-7a19-4d7d-971f-a076407ee03c"
	DevSharedSecret = "abcdef12-abcd-abcd-abcd-abcdef012345"
)

// DevEnv implements providers.Provider: the dev credentials, and the API
// at the emulator.
func (Provider) DevEnv(emulatorURL string) map[string]string {
	return map[string]string{
		"VERIFF_API_KEY":        DevAPIKey,
		"VERIFF_SHARED_SECRETS": DevSharedSecret,
		"VERIFF_BASE_URL":       emulatorURL,
	}
}

// Seal implements providers.Config: body signed as Veriff sends it, with
// the first integration's key and current secret.
func (c *Config) Seal(body []byte) (http.Header, []byte, error) {
	h := http.Header{"Content-Type": {"application/json"}}
	if ins := c.Integrations(); len(ins) > 0 && ins[0].Configured() {
		h.Set("X-Auth-Client", ins[0].APIKey)
		h.Set("X-Hmac-Signature", Sign([]byte(ins[0].SharedSecrets[0]), body))
	}
	return h, body, nil
}

// Emulate implements providers.Config: GET /v1/sessions/{id}/decision as
// the station API answers it, for this configuration's integrations. It
// serves the verification object stored for the session under Name (nil:
// no decision yet), and records which integration's key read it.
func (c *Config) Emulate(e *emulator.Emulator) {
	ins := c.Integrations()
	e.Handle("GET /v1/sessions/{id}/decision", func(w http.ResponseWriter, r *http.Request, id string) {
		client := r.Header.Get("X-AUTH-CLIENT")
		in, known := Find(ins, client)
		if !known {
			emulator.WriteJSON(w, http.StatusUnauthorized, failure("Mandatory X-AUTH-CLIENT header containing the API key is missing or invalid"))
			return
		}
		if !in.Verifies([]byte(id), r.Header.Get("X-HMAC-SIGNATURE")) {
			emulator.WriteJSON(w, http.StatusUnauthorized, failure("Signature does not match the session id signed with the shared secret"))
			return
		}
		e.SawClient(id, client)
		v, ok := e.Object(Name, id)
		if !ok {
			emulator.WriteJSON(w, http.StatusNotFound, failure("Session not found"))
			return
		}
		if len(v) == 0 {
			v = []byte("null")
		}
		emulator.WriteRaw(w, http.StatusOK, []byte(`{"status":"success","verification":`+string(v)+`}`))
	})
}

func failure(msg string) map[string]string {
	return map[string]string{"status": "fail", "message": msg}
}

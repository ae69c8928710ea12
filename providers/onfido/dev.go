package onfido

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/idvflow/idvflow/emulator"
)

// Dev credentials, made up for idvflow and public: never use them outside
// development. DevNextWebhookToken is the token a rotation moves to.
const (
	DevWebhookToken     = "idvflow-dev-onfido-webhook-token-public-1"
	DevNextWebhookToken = "idvflow-dev-onfido-webhook-token-public-2"
	DevAPIToken         = "api_sandbox.idvflow-dev-onfido-public"
)

// ChecksKey is the emulator's store of classic checks (runs are under Name).
const ChecksKey = Name + "/checks"

// DevEnv implements providers.Provider: the dev credentials, and the API
// at the emulator; without an emulator (a tool that only seals webhooks)
// the EU region, as the other providers default to their production API.
func (Provider) DevEnv(emulatorURL string) map[string]string {
	env := map[string]string{
		"ONFIDO_WEBHOOK_TOKENS": DevWebhookToken,
		"ONFIDO_API_TOKEN":      DevAPIToken,
		"ONFIDO_BASE_URL":       emulatorURL,
	}
	if emulatorURL == "" {
		delete(env, "ONFIDO_BASE_URL")
		env["ONFIDO_REGION"] = "eu"
	}
	return env
}

// Seal implements providers.Config: body signed as Onfido sends it.
func (c *Config) Seal(body []byte) (http.Header, []byte, error) {
	h := http.Header{"Content-Type": {"application/json"}}
	if len(c.WebhookTokens) > 0 {
		h.Set(SignatureHeader, Sign([]byte(c.WebhookTokens[0]), body))
	}
	return h, body, nil
}

// Emulate implements providers.Config: the workflow run and check routes
// as Onfido answers them, for this configuration's API token.
func (c *Config) Emulate(e *emulator.Emulator) {
	serve := func(key, what string) func(http.ResponseWriter, *http.Request, string) {
		return func(w http.ResponseWriter, r *http.Request, id string) {
			token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Token token=")
			if !ok || c.APIToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(c.APIToken)) != 1 {
				emulator.WriteJSON(w, http.StatusUnauthorized, failure("authorization_error", "Authorization error: please re-check your credentials"))
				return
			}
			obj, ok := e.Object(key, id)
			if !ok || len(obj) == 0 {
				emulator.WriteJSON(w, http.StatusNotFound, failure("resource_not_found", "The requested "+what+" could not be found"))
				return
			}
			emulator.WriteRaw(w, http.StatusOK, obj)
		}
	}
	e.Handle("GET /v3.6/workflow_runs/{id}", serve(Name, "workflow run"))
	e.Handle("GET /v3.6/checks/{id}", serve(ChecksKey, "check"))
}

func failure(typ, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"type": typ, "message": msg}}
}

package sumsub

import (
	"crypto/hmac"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/idvflow/idvflow/emulator"
)

// This file is Sumsub's part of the development tools: its public dev
// credentials, how a simulated webhook is signed, and its emulated API.

// Dev credentials, made up for idvflow and public: never use them outside
// development. DevNextWebhookSecret is the secret a rotation moves to
// (the tests give the receiver both); the dev stack knows only
// DevWebhookSecret.
const (
	DevWebhookSecret     = "idvflow-dev-sumsub-webhook-public-1"
	DevNextWebhookSecret = "idvflow-dev-sumsub-webhook-public-2"
	DevAppToken          = "sbx:idvflow-dev-sumsub-app-token-public"
	DevSecretKey         = "idvflow-dev-sumsub-secret-key-public"
)

// DevEnv implements providers.Provider: the dev credentials, and the API
// at the emulator.
func (Provider) DevEnv(emulatorURL string) map[string]string {
	return map[string]string{
		"SUMSUB_WEBHOOK_SECRETS": DevWebhookSecret,
		"SUMSUB_APP_TOKEN":       DevAppToken,
		"SUMSUB_SECRET_KEY":      DevSecretKey,
		"SUMSUB_BASE_URL":        emulatorURL,
	}
}

// Seal implements providers.Config: body with its digest as Sumsub sends
// it, SHA-256 (Sumsub's default) under the first webhook secret.
func (c *Config) Seal(body []byte) (http.Header, []byte, error) {
	return c.SealWith(SHA256, body)
}

// SealWith is Seal with the digest algorithm alg.
func (c *Config) SealWith(alg Alg, body []byte) (http.Header, []byte, error) {
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	if len(c.WebhookSecrets) > 0 {
		h.Set(DigestAlgHeader, string(alg))
		h.Set(DigestHeader, Sign(alg, []byte(c.WebhookSecrets[0]), body))
	}
	return h, body, nil
}

// Emulate implements providers.Config: GET /resources/applicants/{id}/one
// as Sumsub answers it, for a request signed with this configuration's app
// token and secret key within RequestWindow of the emulator's clock, with
// the applicant stored for the session under Name.
func (c *Config) Emulate(e *emulator.Emulator) {
	e.Handle("GET /resources/applicants/{id}/one", func(w http.ResponseWriter, r *http.Request, id string) {
		if msg := c.checkRequest(r, time.Now()); msg != "" {
			emulator.WriteJSON(w, http.StatusUnauthorized, failure(http.StatusUnauthorized, msg))
			return
		}
		a, ok := e.Object(Name, id)
		if !ok || len(a) == 0 {
			emulator.WriteJSON(w, http.StatusNotFound, failure(http.StatusNotFound, "Applicant not found"))
			return
		}
		emulator.WriteRaw(w, http.StatusOK, a)
	})
}

// checkRequest is what Sumsub checks of a signed request: the app token,
// a timestamp within RequestWindow of now, and the signature over the
// timestamp, method, path with query and body. "" when it checks.
func (c *Config) checkRequest(r *http.Request, now time.Time) string {
	if c.AppToken == "" || !hmac.Equal([]byte(r.Header.Get(AppTokenHeader)), []byte(c.AppToken)) {
		return "App token not found or invalid"
	}
	ts := r.Header.Get(TsHeader)
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(n, 0)).Abs() > RequestWindow {
		return "Request timestamp is missing or not within a minute of the server's time"
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	got, err := hex.DecodeString(r.Header.Get(SigHeader))
	want, _ := hex.DecodeString(SignRequest([]byte(c.SecretKey), ts, r.Method, r.URL.RequestURI(), body))
	if err != nil || !hmac.Equal(got, want) {
		return "Request signature mismatch"
	}
	return ""
}

// failure is an error as Sumsub's API answers it.
func failure(code int, description string) map[string]any {
	return map[string]any{"code": code, "description": description, "correlationId": "req-idvflow-emulator"}
}

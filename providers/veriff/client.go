package veriff

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/idvflow/idvflow/activities/httpapi"
)

// DefaultBaseURL is Veriff's station API.
const DefaultBaseURL = "https://stationapi.veriff.com"

// Client reads decisions. Its zero value is not usable; see NewClient.
type Client struct {
	baseURL string
	apiKey  string
	secret  []byte
	http    *retryablehttp.Client
}

// NewClient returns a client for the API at baseURL; apiKey goes in X-AUTH-CLIENT
// and secret signs each request.
func NewClient(baseURL, apiKey string, secret []byte, hc *retryablehttp.Client) *Client {
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), apiKey: apiKey, secret: secret, http: hc}
}

// Decision is the non-personal part of a session's decision: person,
// document and technical data are deliberately not decoded.
type Decision struct {
	ID           string          `json:"id"`
	AttemptID    string          `json:"attemptId"`
	Status       string          `json:"status"`
	Code         int             `json:"code"`
	ReasonCode   json.RawMessage `json:"reasonCode"`
	VendorData   *string         `json:"vendorData"`
	EndUserID    *string         `json:"endUserId"`
	DecisionTime *time.Time      `json:"decisionTime"`
	// AcceptanceTime is when Veriff accepted the session; a decision
	// without decisionTime is ordered by it, as its webhook is (R5).
	AcceptanceTime *time.Time `json:"acceptanceTime"`
}

// Reason returns the reason code as text ("" when none).
func (d Decision) Reason() string {
	s := strings.Trim(string(d.ReasonCode), `"`)
	if s == "null" {
		return ""
	}
	return s
}

// UserID is the app's user id: vendorData, else endUserId.
func (d Decision) UserID() (id, source string) {
	if d.VendorData != nil && *d.VendorData != "" {
		return *d.VendorData, "vendorData"
	}
	if d.EndUserID != nil && *d.EndUserID != "" {
		return *d.EndUserID, "endUserId"
	}
	return "", ""
}

var hints = httpapi.Hints{
	http.StatusBadRequest:   "Veriff rejected the request: check the session id",
	http.StatusUnauthorized: "Veriff refused the credentials: check VERIFF_API_KEY and the first of VERIFF_SHARED_SECRETS",
	http.StatusForbidden:    "Veriff refused access: check VERIFF_API_KEY belongs to the integration of this session",
	http.StatusNotFound:     "Veriff has no such session: check VERIFF_BASE_URL and the integration",
}

// GetDecision reads GET /v1/sessions/{id}/decision. It returns nil while the
// session has no decision yet (Veriff answers "verification": null).
func (c *Client) GetDecision(ctx context.Context, sessionID string) (*Decision, error) {
	const op = "veriff GET /v1/sessions/{id}/decision"
	header := http.Header{
		"X-Auth-Client":    {c.apiKey},
		"X-Hmac-Signature": {Sign(c.secret, []byte(sessionID))}, // a GET signs the session id
	}
	body, err := httpapi.Get(ctx, c.http, op, c.baseURL+"/v1/sessions/"+url.PathEscape(sessionID)+"/decision", header, hints)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Status       string    `json:"status"`
		Verification *Decision `json:"verification"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, &httpapi.APIError{Op: op, StatusCode: http.StatusOK, Retryable: true,
			Err: fmt.Errorf("decode decision: %w", err)}
	}
	return resp.Verification, nil
}

package passbase

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
	"github.com/idvflow/idvflow/receiver/webhook"
)

// DefaultBaseURL is Passbase's production API.
const DefaultBaseURL = "https://api.passbase.com/verification/v2"

// Client reads identities. Its zero value is not usable; see NewClient.
type Client struct {
	baseURL string
	apiKey  string
	http    *retryablehttp.Client
}

// NewClient returns a client for the API at baseURL authenticated with apiKey.
func NewClient(baseURL, apiKey string, hc *retryablehttp.Client) *Client {
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), apiKey: apiKey, http: hc}
}

// Identity is the part of Passbase's identity object idvflow uses. Owner and
// resources (names, documents) are deliberately not decoded: they are
// personal data the workflow has no use for.
type Identity struct {
	ID      string  `json:"id"`
	Status  string  `json:"status"`
	Score   float64 `json:"score"`
	Created int64   `json:"created"`
	Updated int64   `json:"updated"`
	// Metadata is kept as raw JSON: a numeric user id read as a float64
	// would lose digits above 2^53 and name another user.
	Metadata map[string]json.RawMessage `json:"metadata"`
}

// UpdatedAt is when Passbase last changed the identity.
// Zero when Passbase gives none, so the caller's fallback applies.
func (i Identity) UpdatedAt() time.Time { return UnixTime(i.Updated) }

// UnixTime reads a Passbase timestamp: Unix seconds as documented, or
// milliseconds where a value only makes sense as such (from 1e11, the year
// 5138 in seconds); zero or negative is no time (docs/semantics.md R5).
func UnixTime(v int64) time.Time {
	switch {
	case v <= 0:
		return time.Time{}
	case v >= 1e11:
		return time.UnixMilli(v).UTC()
	}
	return time.Unix(v, 0).UTC()
}

// UserID is the app's user id from the metadata the app passed to Passbase's
// SDK ("customer_user_id", else "user_id"), and the field it came from.
func (i Identity) UserID() (id, source string) {
	for _, k := range []string{"customer_user_id", "user_id"} {
		if s := webhook.Scalar(i.Metadata[k]); s != "" {
			return s, "metadata." + k
		}
	}
	return "", ""
}

// Decided reports whether the identity's status is a decision the workflow
// acts on ("pending" counts: it is the non-final "awaiting review" state).
func (i Identity) Decided() bool {
	switch i.Status {
	case "pending", "approved", "declined":
		return true
	}
	return false
}

var hints = httpapi.Hints{
	http.StatusBadRequest:   "Passbase rejected the request: check the identity key",
	http.StatusUnauthorized: "Passbase refused the API key: check PASSBASE_API_KEY (the secret key, not the publishable one)",
	http.StatusForbidden:    "Passbase refused access: check PASSBASE_API_KEY belongs to this project",
	http.StatusNotFound:     "Passbase has no such identity: check PASSBASE_BASE_URL and that the webhook came from the project of PASSBASE_API_KEY",
}

// GetIdentity reads GET /identities/{id}.
func (c *Client) GetIdentity(ctx context.Context, id string) (Identity, error) {
	const op = "passbase GET /identities/{id}"
	header := http.Header{"X-Api-Key": {c.apiKey}}
	body, err := httpapi.Get(ctx, c.http, op, c.baseURL+"/identities/"+url.PathEscape(id), header, hints)
	if err != nil {
		return Identity{}, err
	}
	var ident Identity
	if err := json.Unmarshal(body, &ident); err != nil {
		return Identity{}, &httpapi.APIError{Op: op, StatusCode: http.StatusOK, Retryable: true,
			Err: fmt.Errorf("decode identity: %w", err)}
	}
	return ident, nil
}

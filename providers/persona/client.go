package persona

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/workflows"
)

// DefaultBaseURL is Persona's API.
const DefaultBaseURL = "https://api.withpersona.com"

// Client reads inquiries. Its zero value is not usable; see NewClient.
type Client struct {
	baseURL string
	apiKey  string
	http    *retryablehttp.Client
}

// NewClient returns a client for the API at baseURL, authenticated with
// apiKey as a bearer token.
func NewClient(baseURL, apiKey string, hc *retryablehttp.Client) *Client {
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), apiKey: apiKey, http: hc}
}

// Inquiry is the non-personal part of an inquiry: its id and the
// attributes idvflow reads (status, reference-id, times).
type Inquiry struct {
	ID string
	inquiry
}

// Decision is the inquiry's status as a decision ("" for none yet):
// approved, declined, needs_review (review) and expired. created,
// pending, completed and failed are not decisions (docs/providers.md).
func (i Inquiry) Decision() workflows.Status {
	switch i.Status {
	case "approved":
		return workflows.StatusApproved
	case "declined":
		return workflows.StatusDeclined
	case "needs_review":
		return workflows.StatusReview
	case "expired":
		return workflows.StatusExpired
	}
	return ""
}

var hints = httpapi.Hints{
	http.StatusBadRequest:   "Persona rejected the request: check the inquiry id",
	http.StatusUnauthorized: "Persona refused the API key: set PERSONA_API_KEY to an API key of the environment (sandbox or production) the webhooks come from",
	http.StatusForbidden:    "Persona refused access: PERSONA_API_KEY lacks the permission to read inquiries",
	http.StatusNotFound:     "Persona has no such inquiry: check PERSONA_BASE_URL and that PERSONA_API_KEY belongs to the environment the webhook came from",
}

// GetInquiry reads GET /api/v1/inquiries/{id}. No Persona-Version is sent:
// the answer is in the API version the key's organization is set to, and
// only fields every version has are read.
func (c *Client) GetInquiry(ctx context.Context, id string) (Inquiry, error) {
	const op = "persona GET /api/v1/inquiries/{id}"
	header := http.Header{"Authorization": {"Bearer " + c.apiKey}, "Accept": {"application/json"}}
	body, err := httpapi.Get(ctx, c.http, op, c.baseURL+"/api/v1/inquiries/"+url.PathEscape(id), header, hints)
	if err != nil {
		return Inquiry{}, err
	}
	var resp struct {
		Data *resource `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Data == nil || resp.Data.Type != "inquiry" {
		if err == nil {
			err = fmt.Errorf("no inquiry in data")
		}
		return Inquiry{}, &httpapi.APIError{Op: op, StatusCode: http.StatusOK, Retryable: true,
			Err: fmt.Errorf("decode inquiry: %w", err)}
	}
	inq := Inquiry{ID: resp.Data.ID}
	if resp.Data.Attributes != nil {
		inq.inquiry = *resp.Data.Attributes
	}
	return inq, nil
}

package onfido

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

// Client reads workflow runs and checks. Its zero value is not usable.
type Client struct {
	baseURL, token string
	http           *retryablehttp.Client
}

// NewClient returns a client for the API at baseURL (a region's).
func NewClient(baseURL, token string, hc *retryablehttp.Client) *Client {
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), token: token, http: hc}
}

// Run is the non-personal part of a workflow run.
type Run struct {
	ID             string  `json:"id"`
	Status         string  `json:"status"`
	CustomerUserID *string `json:"customer_user_id"`
	ApplicantID    string  `json:"applicant_id"`
	UpdatedAt      *string `json:"updated_at"`
}

// UserID is the app's user: customer_user_id, else the applicant id.
func (r Run) UserID() (string, string) {
	if r.CustomerUserID != nil && *r.CustomerUserID != "" {
		return *r.CustomerUserID, "customer_user_id"
	}
	return r.ApplicantID, "applicant_id"
}

// decidedAt is the run's updated_at, the API's time of its last status.
func (r Run) decidedAt() (time.Time, error) {
	t, err := timeField("the workflow run's updated_at", r.UpdatedAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("%v", err)
	}
	return t, nil
}

// Check is the non-personal part of a classic check.
type Check struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Result      string `json:"result"`
	ApplicantID string `json:"applicant_id"`
}

var hints = httpapi.Hints{
	http.StatusUnauthorized: "Onfido refused the token: set ONFIDO_API_TOKEN to a token of the account's region (ONFIDO_REGION)",
	http.StatusForbidden:    "Onfido refused access: ONFIDO_API_TOKEN lacks the permission, or the account's region is another (ONFIDO_REGION)",
	http.StatusNotFound:     "Onfido has no such workflow run or check: check ONFIDO_REGION or ONFIDO_BASE_URL",
}

func (c *Client) get(ctx context.Context, op, path string, v any) error {
	header := http.Header{"Authorization": {"Token token=" + c.token}}
	body, err := httpapi.Get(ctx, c.http, op, c.baseURL+path, header, hints)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &httpapi.APIError{Op: op, StatusCode: http.StatusOK, Retryable: true, Err: fmt.Errorf("decode: %w", err)}
	}
	return nil
}

// GetWorkflowRun reads GET /v3.6/workflow_runs/{id}.
func (c *Client) GetWorkflowRun(ctx context.Context, id string) (*Run, error) {
	var r Run
	if err := c.get(ctx, "onfido GET /v3.6/workflow_runs/{id}", "/v3.6/workflow_runs/"+url.PathEscape(id), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// GetCheck reads GET /v3.6/checks/{id}.
func (c *Client) GetCheck(ctx context.Context, id string) (*Check, error) {
	var ch Check
	if err := c.get(ctx, "onfido GET /v3.6/checks/{id}", "/v3.6/checks/"+url.PathEscape(id), &ch); err != nil {
		return nil, err
	}
	return &ch, nil
}

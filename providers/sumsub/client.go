package sumsub

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/workflows"
)

// DefaultBaseURL is Sumsub's API.
const DefaultBaseURL = "https://api.sumsub.com"

// The headers of Sumsub's per-request signature.
const (
	AppTokenHeader = "X-App-Token"
	TsHeader       = "X-App-Access-Ts"
	SigHeader      = "X-App-Access-Sig"
)

// RequestWindow is how far Sumsub accepts X-App-Access-Ts from its own
// clock ("within 1 minute of the API server time"); the emulator keeps it.
const RequestWindow = time.Minute

// SignRequest is X-App-Access-Sig: the lowercase hex HMAC-SHA256, under
// the app token's secret key, of the timestamp as sent, the method in
// upper case, the path with its query, and the body (none for a GET).
func SignRequest(secretKey []byte, ts, method, pathQuery string, body []byte) string {
	m := hmac.New(sha256.New, secretKey)
	m.Write([]byte(ts))
	m.Write([]byte(strings.ToUpper(method)))
	m.Write([]byte(pathQuery))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Client reads applicants. Its zero value is not usable; see NewClient.
type Client struct {
	baseURL   string
	appToken  string
	secretKey []byte
	now       func() time.Time
	http      *retryablehttp.Client
}

// NewClient returns a client for the API at baseURL that signs each
// request with appToken's secretKey. It uses hc's transport and retry
// policy, but signs every attempt anew: a retry that waited out a 429
// goes with a fresh X-App-Access-Ts, never one Sumsub's window has left
// behind (which it would refuse with 401, for good).
func NewClient(baseURL, appToken, secretKey string, hc *retryablehttp.Client) *Client {
	c := &Client{baseURL: strings.TrimRight(baseURL, "/"), appToken: appToken, secretKey: []byte(secretKey), now: time.Now}
	c.http = &retryablehttp.Client{
		HTTPClient: hc.HTTPClient, Logger: hc.Logger,
		RetryWaitMin: hc.RetryWaitMin, RetryWaitMax: hc.RetryWaitMax, RetryMax: hc.RetryMax,
		RequestLogHook: hc.RequestLogHook, ResponseLogHook: hc.ResponseLogHook,
		CheckRetry: hc.CheckRetry, Backoff: hc.Backoff, ErrorHandler: hc.ErrorHandler,
		PrepareRetry: func(r *http.Request) error { c.sign(r.Header, r.Method, r.URL.RequestURI(), nil); return nil },
	}
	return c
}

// sign sets the signature headers of a request sent now.
func (c *Client) sign(h http.Header, method, pathQuery string, body []byte) {
	ts := strconv.FormatInt(c.now().Unix(), 10)
	h.Set(AppTokenHeader, c.appToken)
	h.Set(TsHeader, ts)
	h.Set(SigHeader, SignRequest(c.secretKey, ts, method, pathQuery, body))
}

// Applicant is the non-personal part of an applicant: its ids, the app's
// user id and its current review. info, fixedInfo, email, phone and the
// documents are deliberately not decoded.
type Applicant struct {
	ID             string  `json:"id"`
	InspectionID   string  `json:"inspectionId"`
	ExternalUserID *string `json:"externalUserId"`
	Review         *review `json:"review"`
}

// review is an applicant's current review.
type review struct {
	ReviewStatus string        `json:"reviewStatus"`
	ReviewDate   string        `json:"reviewDate"`
	ReviewResult *reviewResult `json:"reviewResult"`
}

// Decision is the applicant's review as a decision ("" for none yet): a
// completed review's verdict as its applicantReviewed webhook gives it,
// and onHold as review. init, pending, prechecked and queued are no
// decision.
func (a Applicant) Decision() (workflows.Status, string, error) {
	if a.Review == nil {
		return "", "", nil
	}
	switch a.Review.ReviewStatus {
	case "completed":
		return verdict(a.Review.ReviewResult)
	case "onHold":
		return workflows.StatusReview, "", nil
	}
	return "", "", nil
}

// reviewDateLayouts are the forms of the API's review times
// ("2024-07-09 10:24:26+0000").
var reviewDateLayouts = []string{"2006-01-02 15:04:05-0700", "2006-01-02 15:04:05.999999999-0700", timeLayout, time.RFC3339Nano}

// ReviewedAt is when the review completed (zero: not given).
func (a Applicant) ReviewedAt() (time.Time, error) {
	if a.Review == nil || a.Review.ReviewDate == "" {
		return time.Time{}, nil
	}
	for _, l := range reviewDateLayouts {
		if t, err := time.ParseInLocation(l, a.Review.ReviewDate, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("review.reviewDate is not a time")
}

var hints = httpapi.Hints{
	http.StatusBadRequest: "Sumsub rejected the request: check the applicant id",
	http.StatusUnauthorized: "Sumsub refused the signature: check SUMSUB_APP_TOKEN and SUMSUB_SECRET_KEY (a pair of one environment, sandbox or production), " +
		"and that this worker's clock is within a minute of true time (X-App-Access-Ts)",
	http.StatusForbidden: "Sumsub refused access: the app token lacks the permission to read applicants, or its allowed IP addresses exclude this worker",
	http.StatusNotFound:  "Sumsub has no such applicant: check SUMSUB_BASE_URL and that the app token belongs to the environment the webhook came from (sandboxMode)",
}

// GetApplicant reads GET /resources/applicants/{id}/one, signed now.
func (c *Client) GetApplicant(ctx context.Context, id string) (Applicant, error) {
	const op = "sumsub GET /resources/applicants/{id}/one"
	u, err := url.Parse(c.baseURL + "/resources/applicants/" + url.PathEscape(id) + "/one")
	if err != nil {
		return Applicant{}, &httpapi.APIError{Op: op, Err: err, Hint: "check SUMSUB_BASE_URL"}
	}
	header := http.Header{}
	c.sign(header, http.MethodGet, u.RequestURI(), nil) // the path as the server sees it, base path included
	body, err := httpapi.Get(ctx, c.http, op, u.String(), header, hints)
	if err != nil {
		return Applicant{}, err
	}
	var a Applicant
	if err := json.Unmarshal(body, &a); err != nil || a.ID == "" {
		if err == nil {
			err = fmt.Errorf("no applicant id")
		}
		return Applicant{}, &httpapi.APIError{Op: op, StatusCode: http.StatusOK, Retryable: true,
			Err: fmt.Errorf("decode applicant: %w", err)}
	}
	return a, nil
}

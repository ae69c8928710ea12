// Package httpapi is the HTTP behaviour the provider API clients share:
// go-retryablehttp with bounded retries for transient failures (honouring
// Retry-After), and one error type that says whether retrying can help.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// maxResponseBytes bounds what is read of a provider's answer.
const maxResponseBytes = 4 << 20

// Options tune a client. Zero values take the defaults noted.
type Options struct {
	// Timeout bounds one HTTP attempt (default 10s).
	Timeout time.Duration
	// RetryMax is how often one call retries a transient failure before it
	// gives up and lets Temporal's activity retry take over (default 2).
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the wait between retries
	// (defaults 200ms and 5s); a Retry-After header is honoured up to
	// RetryWaitMax.
	RetryWaitMin, RetryWaitMax time.Duration
	Logger                     *slog.Logger
	// SecretURL says the URL is a credential (IDV_NOTIFY_URL may carry a
	// token in its path or query): the client's logs name no URL. Errors
	// never do (Do).
	SecretURL bool
}

// NewClient returns a retrying HTTP client.
func NewClient(o Options) *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.HTTPClient.Timeout = durationOr(o.Timeout, 10*time.Second)
	c.RetryMax = o.RetryMax
	if c.RetryMax == 0 {
		c.RetryMax = 2
	}
	c.RetryWaitMin = durationOr(o.RetryWaitMin, 200*time.Millisecond)
	c.RetryWaitMax = durationOr(o.RetryWaitMax, 5*time.Second)
	c.CheckRetry = checkRetry
	// Hand back the last response after the retries, so the caller can turn
	// its status into an APIError instead of a bare "giving up".
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	if o.Logger != nil {
		c.Logger = leveledLogger{l: o.Logger, hideURL: o.SecretURL}
	} else {
		c.Logger = nil
	}
	return c
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// checkRetry adds 408 to retryablehttp's default policy (connection errors,
// 429 and 5xx except 501).
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err == nil && resp != nil && resp.StatusCode == http.StatusRequestTimeout {
		return true, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// APIError is a failed provider API call.
type APIError struct {
	// Op names the call: "<provider> <method> <path>".
	Op string
	// StatusCode is the HTTP status, or 0 when no response came.
	StatusCode int
	// Retryable says whether the same call may succeed later.
	Retryable bool
	// Hint says what to fix when retrying cannot help.
	Hint string
	Err  error
}

func (e *APIError) Error() string {
	msg := e.Op
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(": HTTP %d", e.StatusCode)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *APIError) Unwrap() error { return e.Err }

// Hints per permanent status; the provider clients add their own wording.
type Hints map[int]string

// Get performs a GET; see Do.
func Get(ctx context.Context, c *retryablehttp.Client, op, url string, header http.Header, hints Hints) ([]byte, error) {
	return Do(ctx, c, op, http.MethodGet, url, header, nil, hints)
}

// Do sends one request (body may be nil) and returns the body of a 2xx
// answer. Any other outcome is an *APIError: 408, 409, 425, 429, 5xx and
// transport failures are retryable; other statuses are not, and carry the
// hint for their status.
func Do(ctx context.Context, c *retryablehttp.Client, op, method, url string, header http.Header, body []byte, hints Hints) ([]byte, error) {
	var rb any
	if body != nil {
		rb = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, url, rb)
	if err != nil {
		return nil, &APIError{Op: op, Err: withoutURL(err), Hint: "check the URL"}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		// Transport failure or timeout after the client's own retries.
		return nil, &APIError{Op: op, Retryable: true, Err: withoutURL(err)}
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, &APIError{Op: op, StatusCode: resp.StatusCode, Retryable: true, Err: fmt.Errorf("read body: %w", err)}
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return out, nil
	case code == http.StatusRequestTimeout, code == http.StatusConflict, code == http.StatusTooEarly,
		code == http.StatusTooManyRequests, code >= 500:
		return nil, &APIError{Op: op, StatusCode: code, Retryable: true}
	default:
		return nil, &APIError{Op: op, StatusCode: code, Hint: hints[code]}
	}
}

// withoutURL is a transport error without the request's URL: Op names the
// call, the URL may be a credential (IDV_NOTIFY_URL), and the error goes to
// logs and to Temporal. What failed (a refused connection, a timeout, an
// unknown host) is kept.
func withoutURL(err error) error {
	var ue *neturl.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	for _, e := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, e) {
			return e
		}
	}
	return fmt.Errorf("request failed (%T)", err)
}

// IsRetryable reports whether err may go away on a later attempt.
func IsRetryable(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Retryable
	}
	return true
}

// leveledLogger lets retryablehttp log its retries through slog at debug
// level. A provider's URLs carry session ids but no personal data, and are
// logged; a secret URL is not (hideURL).
type leveledLogger struct {
	l       *slog.Logger
	hideURL bool
}

func (l leveledLogger) Error(msg string, kv ...any) { l.l.Warn(l.clean(msg), l.hide(kv)...) }
func (l leveledLogger) Info(msg string, kv ...any)  { l.l.Debug(l.clean(msg), l.hide(kv)...) }
func (l leveledLogger) Debug(msg string, kv ...any) { l.l.Debug(l.clean(msg), l.hide(kv)...) }
func (l leveledLogger) Warn(msg string, kv ...any)  { l.l.Debug(l.clean(msg), l.hide(kv)...) }

// hide drops, when the URL is secret, every attribute value that may name
// it: the url, an error (which names its URL), any text with a scheme in it
// (retryablehttp's "request" is "POST https://…").
func (l leveledLogger) hide(kv []any) []any {
	if !l.hideURL {
		return kv
	}
	out := append([]any(nil), kv...)
	for i := 1; i < len(out); i += 2 {
		switch v := out[i].(type) {
		case error:
			out[i] = withoutURL(v).Error()
		case string:
			if k, _ := out[i-1].(string); k == "url" || strings.Contains(v, "://") {
				out[i] = "(secret URL)"
			}
		case fmt.Stringer:
			out[i] = "(hidden: it may name the secret URL)"
		}
	}
	return out
}

// clean keeps retryablehttp's messages ("POST https://… request failed")
// from naming a secret URL.
func (l leveledLogger) clean(msg string) string {
	if l.hideURL && strings.Contains(msg, "://") {
		return "request (to a secret URL)"
	}
	return msg
}

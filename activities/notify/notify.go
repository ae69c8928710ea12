// Package notify posts verification outcomes to the team's own app, signed
// the Standard Webhooks way (https://www.standardwebhooks.com), so the app
// can verify them with any Standard Webhooks library.
package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/idvflow/idvflow/activities/httpapi"
)

// SecretPrefix starts a Standard Webhooks secret; base64 of the key follows.
const SecretPrefix = "whsec_"

// ParseSecret decodes a "whsec_<base64>" secret into its HMAC key. The
// format is the one Standard Webhooks libraries expect on the receiving side,
// so both ends are configured with the same string.
func ParseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("must start with %q (generate one: echo %s$(openssl rand -base64 32))", SecretPrefix, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("the part after %q must be base64", SecretPrefix)
	}
	if len(key) < 24 {
		return nil, fmt.Errorf("the key must be at least 24 bytes, got %d", len(key))
	}
	return key, nil
}

// Sign returns the webhook-signature value: "v1," + base64 of
// HMAC-SHA256(key, id + "." + timestamp + "." + body).
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Client posts to one URL.
type Client struct {
	url  string
	key  []byte
	http *retryablehttp.Client
	now  func() time.Time
}

// New returns a client; key comes from ParseSecret. It takes hc over: hc
// must not be shared, since the client re-signs each of hc's retries.
func New(url string, key []byte, hc *retryablehttp.Client) *Client {
	c := &Client{url: url, key: key, http: hc, now: time.Now}
	hc.PrepareRetry = c.restamp
	return c
}

// bodyKey carries the body to restamp, which sees only the http.Request.
type bodyKey struct{}

var hints = httpapi.Hints{
	http.StatusBadRequest:   "the app rejected the notification: check its webhook handler",
	http.StatusUnauthorized: "the app rejected the signature: check that it uses the same IDV_NOTIFY_SECRET",
	http.StatusForbidden:    "the app refused the notification: check its authorization of idvflow",
	http.StatusNotFound:     "no webhook handler at IDV_NOTIFY_URL: check the URL",
}

// Send posts body with webhook-id id. The id stays the same on every retry
// so the app can drop repeats; the timestamp and signature are those of
// each attempt, as the standard asks.
func (c *Client) Send(ctx context.Context, id string, body []byte) error {
	ts := c.now().Unix()
	header := http.Header{
		"Content-Type":      {"application/json"},
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {strconv.FormatInt(ts, 10)},
		"Webhook-Signature": {Sign(c.key, id, ts, body)},
	}
	ctx = context.WithValue(ctx, bodyKey{}, body)
	_, err := httpapi.Do(ctx, c.http, "notify app POST IDV_NOTIFY_URL", http.MethodPost, c.url, header, body, hints)
	return err
}

// restamp gives each of the HTTP client's own retries a fresh timestamp
// and signature.
func (c *Client) restamp(r *http.Request) error {
	body, _ := r.Context().Value(bodyKey{}).([]byte)
	c.stamp(r, r.Header.Get("webhook-id"), body)
	return nil
}

func (c *Client) stamp(r *http.Request, id string, body []byte) {
	ts := c.now().Unix()
	r.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	r.Header.Set("webhook-signature", Sign(c.key, id, ts, body))
}

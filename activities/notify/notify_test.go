package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/activities/notify"
)

// The Standard Webhooks specification's published test vector.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheStandardVector(t *testing.T) {
	key, err := notify.ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := notify.Sign(key, vectorID, vectorTS, []byte(vectorBody)); got != vectorSig {
		t.Fatalf("got %s, want %s", got, vectorSig)
	}
}

func TestParseSecret(t *testing.T) {
	for _, bad := range []string{"", "plain-secret", "whsec_not base64!", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := notify.ParseSecret(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("error echoes the secret: %v", err)
		}
	}
}

// verify checks a request the way a receiving app's library does.
func verify(t *testing.T, key []byte, r *http.Request, body []byte) (id string, ts int64) {
	t.Helper()
	id = r.Header.Get("webhook-id")
	ts, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	if err != nil || id == "" {
		t.Fatalf("headers %v", r.Header)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	if r.Header.Get("webhook-signature") != want {
		t.Fatalf("signature %s, want %s", r.Header.Get("webhook-signature"), want)
	}
	return id, ts
}

func TestSendRetriesKeepTheID(t *testing.T) {
	key, _ := notify.ParseSecret(vectorSecret)
	var mu sync.Mutex
	var ids []string
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, ts := verify(t, key, r, body)
		if d := time.Since(time.Unix(ts, 0)); d > time.Minute || d < -time.Minute {
			t.Errorf("timestamp %d is not the attempt's time", ts)
		}
		mu.Lock()
		defer mu.Unlock()
		ids, bodies = append(ids, id), append(bodies, string(body))
		if len(ids) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	hc := httpapi.NewClient(httpapi.Options{RetryMax: 3, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	c := notify.New(srv.URL, key, hc)
	if err := c.Send(context.Background(), "msg_1", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || ids[0] != "msg_1" || ids[1] != ids[0] || ids[2] != ids[0] || bodies[0] != bodies[2] {
		t.Fatalf("ids %v bodies %v", ids, bodies)
	}
}

func TestSendRefusalIsPermanent(t *testing.T) {
	key, _ := notify.ParseSecret(vectorSecret)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	err := notify.New(srv.URL, key, httpapi.NewClient(httpapi.Options{})).Send(context.Background(), "msg_2", []byte(`{}`))
	var apiErr *httpapi.APIError
	if !errors.As(err, &apiErr) || apiErr.Retryable || !strings.Contains(err.Error(), "IDV_NOTIFY_SECRET") {
		t.Fatalf("got %v, want a permanent error that names IDV_NOTIFY_SECRET", err)
	}
}

// IDV_NOTIFY_URL may carry a token (in its path or query): a transport
// failure names neither in its error, which goes to logs and Temporal, nor
// in the client's retry logs.
func TestTransportErrorsAndLogsDoNotNameTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more: a refused connection
	secretURL := addr + "/hooks/tok-path-7f3a9c?key=tok-query-51be"
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	hc := httpapi.NewClient(httpapi.Options{RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond, Logger: logger, SecretURL: true})
	key, _ := notify.ParseSecret(vectorSecret)
	err := notify.New(secretURL, key, hc).Send(context.Background(), "msg_1", []byte(`{}`))
	if err == nil || !httpapi.IsRetryable(err) {
		t.Fatalf("err %v: want a retryable transport failure", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if logs.Len() == 0 {
		t.Fatal("the client logged nothing of its retry")
	}
	for _, token := range []string{"tok-path-7f3a9c", "tok-query-51be"} {
		if strings.Contains(err.Error(), token) {
			t.Errorf("the error names the URL: %v", err)
		}
		if strings.Contains(logs.String(), token) {
			t.Errorf("the logs name the URL:\n%s", logs.String())
		}
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("the error %q no longer says what failed", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

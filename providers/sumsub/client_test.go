package sumsub

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/emulator"
)

func emulated(t *testing.T) (*emulator.Emulator, *Config, *httptest.Server) {
	emu := emulator.New(emulator.Config{})
	cfg := &Config{AppToken: DevAppToken, SecretKey: DevSecretKey}
	cfg.Emulate(emu)
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	cfg.BaseURL = srv.URL
	return emu, cfg, srv
}

var fastHTTP = httpapi.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond}

// The poll reads the applicant from the emulated API, whose route checks
// the request's signature and timestamp as Sumsub does: a verdict in
// idvflow's words at the review's reviewDate with the same reason code
// the webhook gives, none while the applicant is pending, after a 429.
func TestPollReadsTheApplicant(t *testing.T) {
	emu, cfg, _ := emulated(t)
	api := cfg.API(httpapi.NewClient(fastHTTP))
	now := time.Date(2026, 5, 4, 9, 10, 0, 0, time.UTC)
	for _, tc := range []struct {
		outcome string
		want    activities.PollResult
	}{
		{"approved", activities.PollResult{Found: true, ProviderStatus: "approved", DecidedAt: now.Add(-time.Minute)}},
		{"declined", activities.PollResult{Found: true, ProviderStatus: "declined", ReasonCode: "DOCUMENT_TEMPLATE,FORGERY", DecidedAt: now.Add(-time.Minute)}},
		{"resubmission_requested", activities.PollResult{Found: true, ProviderStatus: "resubmission_requested", ReasonCode: "UNSATISFACTORY_PHOTOS", DecidedAt: now.Add(-time.Minute)}},
		{"review", activities.PollResult{Found: true, ProviderStatus: "review"}}, // onHold has no time: ordered by the poll
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			s, _ := Scenario{Outcome: tc.outcome, UserID: "u-poll"}.Script(now)
			emu.Put(Name, s.SessionID, s.API)
			emu.FailNext(s.SessionID, emulator.Fault{Status: http.StatusTooManyRequests})
			r, err := api.Poll(context.Background(), activities.SessionRef{Provider: Name, SessionID: s.SessionID})
			if err != nil {
				t.Fatal(err)
			}
			tc.want.UserID, tc.want.UserIDSource = "u-poll", "externalUserId"
			if r != tc.want {
				t.Fatalf("got  %+v\nwant %+v", r, tc.want)
			}
			// The webhook says the same of the decision (time, status, reason).
			ev, err := (&Webhooks{}).Parse(s.Steps[len(s.Steps)-1][0])
			if err != nil || string(ev.Decision) != r.ProviderStatus || ev.ReasonCode != r.ReasonCode ||
				(!r.DecidedAt.IsZero() && !ev.OccurredAt.Equal(r.DecidedAt)) {
				t.Fatalf("webhook %+v %v, poll %+v", ev, err, r)
			}
		})
	}
	pending := ApplicantObject(Subject{ID: "aaaaaaaaaaaaaaaaaaaaaaaa", UserID: "u"}, now, "pending", nil, time.Time{})
	emu.Put(Name, "aaaaaaaaaaaaaaaaaaaaaaaa", pending)
	if r, err := api.Poll(context.Background(), activities.SessionRef{SessionID: "aaaaaaaaaaaaaaaaaaaaaaaa"}); err != nil || r.Found {
		t.Fatalf("pending applicant: %+v %v", r, err)
	}
}

// A request signed with a clock outside Sumsub's minute, or with the wrong
// secret key, is refused 401: a permanent error that says what to fix,
// never retried for ever. Without credentials the API is NotConfigured.
func TestPollRefusedSignatures(t *testing.T) {
	emu, cfg, srv := emulated(t)
	hc := httpapi.NewClient(fastHTTP)
	s, _ := Scenario{Outcome: "approved"}.Script(time.Now())
	emu.Put(Name, s.SessionID, s.API)
	for _, tc := range []struct {
		name   string
		client *Client
	}{
		{"a clock two minutes slow", func() *Client {
			c := NewClient(srv.URL, DevAppToken, DevSecretKey, hc)
			c.now = func() time.Time { return time.Now().Add(-2 * time.Minute) }
			return c
		}()},
		{"another secret key", NewClient(srv.URL, DevAppToken, "another-secret-key-0123456789", hc)},
		{"another app token", NewClient(srv.URL, "sbx:another-token", DevSecretKey, hc)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := emu.Calls(s.SessionID)
			_, err := (&API{client: tc.client}).Poll(context.Background(), activities.SessionRef{SessionID: s.SessionID})
			var apiErr *httpapi.APIError
			if !errors.As(err, &apiErr) || apiErr.Retryable || apiErr.StatusCode != 401 || !strings.Contains(err.Error(), "clock") {
				t.Fatalf("got %v", err)
			}
			if n := emu.Calls(s.SessionID) - before; n != 1 {
				t.Fatalf("%d calls, want 1 (a 401 is not retried)", n)
			}
		})
	}
	if _, err := (&Config{}).API(hc).Poll(context.Background(), activities.SessionRef{SessionID: "x"}); err == nil ||
		!strings.Contains(err.Error(), "SUMSUB_APP_TOKEN") {
		t.Fatalf("no credentials: %v", err)
	}
	_ = cfg
}

// A retry is signed anew: the first attempt, signed with a timestamp the
// window is about to leave, meets a 429; the retry, signed at its own
// moment, is accepted.
func TestRetryIsSignedAnew(t *testing.T) {
	emu, _, srv := emulated(t)
	s, _ := Scenario{Outcome: "approved"}.Script(time.Now())
	emu.Put(Name, s.SessionID, s.API)
	emu.FailNext(s.SessionID, emulator.Fault{Status: http.StatusTooManyRequests})
	c := NewClient(srv.URL, DevAppToken, DevSecretKey, httpapi.NewClient(fastHTTP))
	var n atomic.Int32
	c.now = func() time.Time {
		if n.Add(1) == 1 {
			return time.Now().Add(-5 * time.Minute) // the first signing: long stale
		}
		return time.Now()
	}
	if _, err := c.GetApplicant(context.Background(), s.SessionID); err != nil {
		t.Fatalf("the retry went with the first attempt's signature: %v", err)
	}
	if got := emu.Answers(s.SessionID); len(got) != 2 || got[1] != 200 {
		t.Fatalf("answers %v", got)
	}
}

// The client signs ts + METHOD + path?query + body, as Sumsub's
// documentation example lays it out.
func TestRequestSignature(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.URL.RequestURI() + " " + r.Header.Get(AppTokenHeader) + " " + r.Header.Get(TsHeader) + " " + r.Header.Get(SigHeader))
		w.Write([]byte(`{"id":"abc"}`))
	}))
	defer srv.Close()
	c := NewClient(srv.URL+"/base/", "tok", "key", httpapi.NewClient(httpapi.Options{}))
	c.now = func() time.Time { return time.Unix(1607551635, 0) }
	if _, err := c.GetApplicant(context.Background(), "abc"); err != nil {
		t.Fatal(err)
	}
	want := "/base/resources/applicants/abc/one tok 1607551635 " + SignRequest([]byte("key"), "1607551635", "GET", "/base/resources/applicants/abc/one", nil)
	if got.Load() != want {
		t.Fatalf("request %q\nwant    %q", got.Load(), want)
	}
	// Python: hmac.new(b"key", b"1607551635GET/base/resources/applicants/abc/one", hashlib.sha256).hexdigest()
	if sig := SignRequest([]byte("key"), "1607551635", "get", "/base/resources/applicants/abc/one", nil); sig != requestVector {
		t.Fatalf("SignRequest = %s", sig)
	}
}

// requestVector is X-App-Access-Sig for TestRequestSignature's request,
// made with Python's hmac (the command is beside its use).
const requestVector = "0244bbc1abcb924c21bb1c2d5a4d76d0eeb63401d6f79b6032f611533db54494"

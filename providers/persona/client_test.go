package persona_test

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
	"github.com/idvflow/idvflow/providers/persona"
	"github.com/idvflow/idvflow/providers/sim"
)

// The poll reads the inquiry from the emulated API: a decision in
// idvflow's words at the inquiry's own time, none while it is pending,
// after a 429 with Retry-After; a refused key is a permanent error that
// says to set PERSONA_API_KEY.
func TestPollReadsTheInquiry(t *testing.T) {
	emu := emulator.New(emulator.Config{})
	cfg := &persona.Config{APIKey: persona.DevAPIKey}
	cfg.Emulate(emu)
	srv := httptest.NewServer(emu.Handler())
	defer srv.Close()
	cfg.BaseURL = srv.URL
	hc := httpapi.NewClient(httpapi.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond})
	api := cfg.API(hc)

	s, _ := persona.Scenario{Outcome: "review", UserID: "u-poll"}.Script(time.Date(2026, 5, 4, 9, 10, 0, 0, time.UTC))
	emu.Put(persona.Name, s.SessionID, s.API)
	emu.FailNext(s.SessionID, emulator.Fault{Status: http.StatusTooManyRequests})
	r, err := api.Poll(context.Background(), activities.SessionRef{Provider: persona.Name, SessionID: s.SessionID})
	if err != nil {
		t.Fatal(err)
	}
	want := activities.PollResult{Found: true, ProviderStatus: "review", DecidedAt: time.Date(2026, 5, 4, 9, 9, 0, 0, time.UTC),
		UserID: "u-poll", UserIDSource: "reference-id"}
	if r != want {
		t.Fatalf("got  %+v\nwant %+v", r, want)
	}

	pending := persona.InquiryObject("inq_pending", "u", "pending", persona.Times{Created: time.Now()})
	emu.Put(persona.Name, "inq_pending", sim.JSON(pending))
	if r, err := api.Poll(context.Background(), activities.SessionRef{SessionID: "inq_pending"}); err != nil || r.Found {
		t.Fatalf("pending inquiry: %+v %v", r, err)
	}

	wrongKey := (&persona.Config{APIKey: "persona_sandbox_wrong", BaseURL: srv.URL}).API(hc)
	_, err = wrongKey.Poll(context.Background(), activities.SessionRef{SessionID: s.SessionID})
	var apiErr *httpapi.APIError
	if !errors.As(err, &apiErr) || apiErr.Retryable || apiErr.StatusCode != 401 || !strings.Contains(err.Error(), "set PERSONA_API_KEY") {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := (&persona.Config{}).API(hc).Poll(context.Background(), activities.SessionRef{SessionID: "x"}); err == nil ||
		!strings.Contains(err.Error(), "PERSONA_API_KEY") {
		t.Fatalf("no key: %v", err)
	}
}

// The client sends the key as a bearer token to /api/v1/inquiries/{id}.
func TestClientSendsBearerKey(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Method + " " + r.URL.Path + " " + r.Header.Get("Authorization"))
		w.Write([]byte(`{"data":{"type":"inquiry","id":"inq_1","attributes":{"status":"approved","reference-id":"u","decisioned-at":"2026-05-04T09:00:00.000Z"}}}`))
	}))
	defer srv.Close()
	inq, err := persona.NewClient(srv.URL+"/", "key-1", httpapi.NewClient(httpapi.Options{})).GetInquiry(context.Background(), "inq_1")
	if err != nil || inq.Decision() != "approved" {
		t.Fatalf("%+v %v", inq, err)
	}
	if g := got.Load(); g != "GET /api/v1/inquiries/inq_1 Bearer key-1" {
		t.Fatalf("request %q", g)
	}
}

package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/registry"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"

	"go.temporal.io/sdk/temporal"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/emulator"
)

const (
	identityID = "b76e244e-26a3-49ef-9c72-3e599bf0b5f2"
	sessionID  = "12df6045-3846-3e45-946a-14fa6136d78b"
)

// setup serves the emulator and builds the activities' provider APIs as
// the worker does, from env: the variables that point them at it.
func setup(t *testing.T) (emu *emulator.Emulator, a *activities.Activities, env map[string]string) {
	t.Helper()
	emu, srv, env, err := testkit.StartEmulator(context.Background(), emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hc := httpapi.NewClient(httpapi.Options{Timeout: 2 * time.Second, RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond})
	return emu, &activities.Activities{Providers: apis(t, env, hc)}, env
}

// apis builds every provider's API from env as the worker does.
func apis(t *testing.T, env map[string]string, hc *retryablehttp.Client) map[string]activities.ProviderAPI {
	t.Helper()
	cs, err := registry.Load(context.Background(), envconfig.MapLookuper(env))
	if err != nil {
		t.Fatal(err)
	}
	apis := cs.APIs(hc)
	return apis
}

func identityVector(t *testing.T) json.RawMessage {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "passbase", "identity-approved.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFetchDetailsPassbase(t *testing.T) {
	emu, a, _ := setup(t)
	emu.Put(passbase.Name, identityID, identityVector(t))
	d, err := a.FetchDetails(context.Background(), activities.SessionRef{Provider: "passbase", SessionID: identityID})
	if err != nil {
		t.Fatal(err)
	}
	want := activities.Details{UserID: "1234567", UserIDSource: "metadata.customer_user_id", ProviderStatus: "approved", UpdatedAt: time.Unix(1582629100, 0).UTC()}
	if d != want {
		t.Fatalf("got %+v, want %+v", d, want)
	}
	b, _ := json.Marshal(d)
	for _, pii := range []string{"John", "Doe", "john.doe@example.com", "010101010101", "1970-01-01"} {
		if strings.Contains(string(b), pii) {
			t.Fatalf("details carry personal data %q", pii)
		}
	}
}

func TestProviderErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		prepare   func(*emulator.Emulator)
		ref       activities.SessionRef
		apiKey    string
		retryable bool
		hint      string
	}{
		{name: "unknown identity is 404, permanent", ref: activities.SessionRef{Provider: "passbase", SessionID: "00000000-0000-0000-0000-000000000000"},
			hint: "no such identity"},
		{name: "bad API key is 401, permanent", apiKey: "wrong", ref: activities.SessionRef{Provider: "passbase", SessionID: identityID},
			prepare: func(e *emulator.Emulator) { e.Put(passbase.Name, identityID, json.RawMessage(`{}`)) }, hint: "PASSBASE_API_KEY"},
		{name: "non-uuid id is 400, permanent", ref: activities.SessionRef{Provider: "passbase", SessionID: "not-a-uuid"}, hint: "identity key"},
		{name: "persistent 500 is retryable", ref: activities.SessionRef{Provider: "passbase", SessionID: identityID}, retryable: true,
			prepare: func(e *emulator.Emulator) {
				e.Put(passbase.Name, identityID, json.RawMessage(`{}`))
				e.FailNext(identityID, emulator.Fault{Status: 500}, emulator.Fault{Status: 500}, emulator.Fault{Status: 500})
			}},
		{name: "unknown veriff session is 404, permanent", ref: activities.SessionRef{Provider: "veriff", SessionID: "nope"}, hint: "no such session"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			emu, a, env := setup(t)
			if tc.prepare != nil {
				tc.prepare(emu)
			}
			if tc.apiKey != "" {
				env["PASSBASE_API_KEY"] = tc.apiKey
				a.Providers = apis(t, env, httpapi.NewClient(httpapi.Options{}))
			}
			var err error
			if tc.ref.Provider == "passbase" {
				_, err = a.FetchDetails(ctx, tc.ref)
			} else {
				_, err = a.PollDecision(ctx, tc.ref)
			}
			if err == nil {
				t.Fatal("want an error")
			}
			var appErr *temporal.ApplicationError
			nonRetryable := errors.As(err, &appErr) && appErr.NonRetryable()
			if nonRetryable == tc.retryable {
				t.Fatalf("non-retryable=%v for %v", nonRetryable, err)
			}
			if tc.hint != "" && !strings.Contains(err.Error(), tc.hint) {
				t.Fatalf("error %q does not say what to fix (%q)", err, tc.hint)
			}
		})
	}
}

func TestTransientFaultsAreRetriedByTheClient(t *testing.T) {
	emu, a, _ := setup(t)
	emu.Put(passbase.Name, identityID, identityVector(t))
	emu.FailNext(identityID, emulator.Fault{Status: 429}, emulator.Fault{Status: 503})
	d, err := a.FetchDetails(context.Background(), activities.SessionRef{Provider: "passbase", SessionID: identityID})
	if err != nil {
		t.Fatalf("429 then 503 then 200 must succeed: %v", err)
	}
	if d.UserID != "1234567" || emu.Calls(identityID) != 3 {
		t.Fatalf("user %q after %d calls", d.UserID, emu.Calls(identityID))
	}
}

func TestPollVeriff(t *testing.T) {
	emu, a, _ := setup(t)
	ref := activities.SessionRef{Provider: "veriff", SessionID: sessionID}
	emu.Put(veriff.Name, sessionID, nil)
	r, err := a.PollDecision(context.Background(), ref)
	if err != nil || r.Found {
		t.Fatalf("no decision yet: got %+v, %v", r, err)
	}
	emu.Put(veriff.Name, sessionID, json.RawMessage(`{"id":"`+sessionID+`","attemptId":"a1","status":"declined","code":9102,"reasonCode":102,"vendorData":"u-9","decisionTime":"2024-05-01T10:00:00.5Z","person":{"firstName":"X"}}`))
	r, err = a.PollDecision(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	want := activities.PollResult{Found: true, ProviderStatus: "declined", ReasonCode: "102", AttemptID: "a1",
		DecidedAt: time.Date(2024, 5, 1, 10, 0, 0, 500000000, time.UTC), UserID: "u-9", UserIDSource: "vendorData"}
	if r != want {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
}

func TestPollVeriffWrongSecretIsPermanent(t *testing.T) {
	emu, a, env := setup(t)
	emu.Put(veriff.Name, sessionID, nil)
	env["VERIFF_SHARED_SECRETS"] = "wrong-secret-0123456789"
	a.Providers = apis(t, env, httpapi.NewClient(httpapi.Options{}))
	_, err := a.PollDecision(context.Background(), activities.SessionRef{Provider: "veriff", SessionID: sessionID})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() || !strings.Contains(err.Error(), "401") {
		t.Fatalf("got %v, want a non-retryable 401", err)
	}
}

func TestPollPassbase(t *testing.T) {
	emu, a, _ := setup(t)
	ref := activities.SessionRef{Provider: "passbase", SessionID: identityID}
	emu.Put(passbase.Name, identityID, json.RawMessage(`{"id":"`+identityID+`","status":"processing","updated":100}`))
	if r, err := a.PollDecision(context.Background(), ref); err != nil || r.Found {
		t.Fatalf("processing is no decision: %+v %v", r, err)
	}
	emu.Put(passbase.Name, identityID, identityVector(t))
	r, err := a.PollDecision(context.Background(), ref)
	if err != nil || !r.Found || r.ProviderStatus != "approved" || r.UserID != "1234567" {
		t.Fatalf("got %+v %v", r, err)
	}
}

// A worker without a provider's credentials fails the activity so that it
// is retried, on any worker, until one that has them takes it: a worker's
// own configuration never ends a session (issue 13). The error names what to
// set.
func TestUnconfiguredProviderIsRetried(t *testing.T) {
	a := &activities.Activities{Providers: apis(t, nil, nil)}
	_, err := a.PollDecision(context.Background(), activities.SessionRef{Provider: "veriff", SessionID: sessionID})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.NonRetryable() || appErr.Type() != activities.ErrTypeNotConfigured ||
		!strings.Contains(err.Error(), "VERIFF_API_KEY") {
		t.Fatalf("got %v, want a retryable NotConfigured error naming VERIFF_API_KEY", err)
	}
	// Soon, not after an ever longer backoff: another worker may have them.
	if d := appErr.NextRetryDelay(); d <= 0 || d > 5*time.Second {
		t.Fatalf("next retry in %s, want a short fixed delay", d)
	}
}

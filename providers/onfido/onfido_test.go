package onfido

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

func vector(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/onfido/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	vectorOld = "vectorOldToken-onfido-0123456789"
	vectorNew = "vectorNewToken-onfido-9876543210"
)

// onfido-node's published vector checks and Sign makes it; the vectors
// made with Python check under either token of a rotation.
func TestVectors(t *testing.T) {
	pub := []byte(vector(t, "published-check-completed.json"))
	const want = "a0082d7481f9f0a2907583dbe1f344d6d4c0d9989df2fd804f98479f60cd760e"
	if Sign([]byte(publishedToken), pub) != want || vector(t, "published-check-completed.sig") != want {
		t.Fatal("Sign does not make the published vector")
	}
	body := []byte(vector(t, "run-declined.json"))
	for _, tc := range []struct {
		name, sig string
		tokens    []string
		want      error
	}{
		{"published", want, []string{publishedToken}, nil},
		{"old token", vector(t, "run-declined.sig"), []string{vectorOld}, nil},
		{"new token, receiver rotating", vector(t, "run-declined.new.sig"), []string{vectorOld, vectorNew}, nil},
		{"old token, receiver rotating", vector(t, "run-declined.sig"), []string{vectorNew, vectorOld}, nil},
		{"new token, receiver has only the old", vector(t, "run-declined.new.sig"), []string{vectorOld}, errMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := body
			if tc.name == "published" {
				b = pub
			}
			var ts [][]byte
			for _, s := range tc.tokens {
				ts = append(ts, []byte(s))
			}
			if err := Verify(ts, tc.sig, b); err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignatureRefusals(t *testing.T) {
	tok := []byte("table-token-0123456789")
	body := []byte(`{"payload":{}}`)
	good := Sign(tok, body)
	for _, tc := range []struct {
		name, sig string
		body      []byte
		want      error
	}{
		{"genuine", good, body, nil},
		{"upper case hex", strings.ToUpper(good), body, nil},
		{"none", "", body, errNoSignature},
		{"truncated", good[:62], body, errBadHeader},
		{"not hex", good[:63] + "z", body, errBadHeader},
		{"with a prefix", "sha256=" + good, body, errBadHeader},
		{"body changed", good, append([]byte(" "), body...), errMismatch},
		{"another token", Sign([]byte("other"), body), body, errMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify([][]byte{tok}, tc.sig, tc.body); err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// Each action and status means what docs/providers.md says.
func TestEventMapping(t *testing.T) {
	const run = "7d4c8c2e-5f0a-4b8e-9c1d-2e3f4a5b6c7d"
	for _, tc := range []struct {
		name, resource, action, status string
		kind                           workflows.Kind
		decision                       workflows.Status
	}{
		{"approved", "workflow_run", "workflow_run.completed", "approved", workflows.KindDecision, workflows.StatusApproved},
		{"declined", "workflow_run", "workflow_run.completed", "declined", workflows.KindDecision, workflows.StatusDeclined},
		{"review", "workflow_run", "workflow_run.completed", "review", workflows.KindDecision, workflows.StatusReview},
		{"abandoned", "workflow_run", "workflow_run.completed", "abandoned", workflows.KindDecision, workflows.StatusAbandoned},
		{"error is review", "workflow_run", "workflow_run.completed", "error", workflows.KindDecision, workflows.StatusReview},
		{"awaiting input is progress", "workflow_run", "workflow_run.completed", "awaiting_input", workflows.KindProgress, ""},
		{"check completed is processed (its result is the API's)", "check", "check.completed", "complete", workflows.KindProcessed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := (&Webhooks{}).Parse(WebhookBody(tc.resource, tc.action, run, tc.status, t0))
			if err != nil {
				t.Fatal(err)
			}
			want := workflows.Event{ID: tc.action + "/" + tc.status + "/2026-05-04T09:00:00Z", Provider: Name, SessionID: run,
				Type: tc.action, Kind: tc.kind, Decision: tc.decision, ProviderStatus: tc.status, OccurredAt: t0}
			if ev != want {
				t.Fatalf("got  %+v\nwant %+v", ev, want)
			}
		})
	}
	for _, action := range []string{"workflow_task.started", "workflow_task.completed", "report.completed", "check.started", "workflow_run.something_new"} {
		if _, err := (&Webhooks{}).Parse(WebhookBody("x", action, run, "x", t0)); !errors.Is(err, webhook.ErrIgnored) {
			t.Errorf("%s: %v, want ignored", action, err)
		}
	}
	good := string(WebhookBody("workflow_run", "workflow_run.completed", run, "approved", t0))
	for _, tc := range []struct{ name, body, field string }{
		{"not JSON", "x", "JSON object"},
		{"no action", strings.Replace(good, `"action":"workflow_run.completed"`, `"action":""`, 1), "payload.action"},
		{"unknown status", strings.Replace(good, `"approved"`, `"maybe"`, 1), "status"},
		{"no time", strings.Replace(good, `"2026-05-04T09:00:00.000Z"`, `null`, 1), "completed_at_iso8601"},
		{"bad id", strings.Replace(good, `"id":"`+run, `"id":"../`, 1), "session id"},
	} {
		var m *webhook.MalformedError
		if _, err := (&Webhooks{}).Parse([]byte(tc.body)); !errors.As(err, &m) || !strings.Contains(m.Reason, tc.field) {
			t.Errorf("%s: %v, want malformed naming %q", tc.name, err, tc.field)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"published token", Config{WebhookTokens: []string{publishedToken}}, "published"},
		{"short token", Config{WebhookTokens: []string{"abc123"}}, "shorter"},
		{"API token without a region", Config{APIToken: DevAPIToken}, "ONFIDO_REGION"},
		{"unknown region", Config{APIToken: DevAPIToken, Region: "uk"}, "eu, us or ca"},
		{"region and base URL", Config{APIToken: DevAPIToken, Region: "eu", BaseURL: "http://x"}, "both set"},
	} {
		errs := tc.cfg.Validate()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, errs, tc.want)
		}
	}
	c := Config{APIToken: DevAPIToken, Region: "us"}
	if errs := c.Validate(); len(errs) > 0 || c.baseURL() != "https://api.us.onfido.com" {
		t.Fatalf("%v %s", errs, c.baseURL())
	}
}

// The poll and the details read the run from the emulated API (the
// Authorization: Token token=… header checked), a check when there is no
// run; a wrong token is permanent and says what to set.
func TestPollAndDetails(t *testing.T) {
	emu := emulator.New(emulator.Config{})
	cfg := &Config{APIToken: DevAPIToken}
	cfg.Emulate(emu)
	srv := httptest.NewServer(emu.Handler())
	defer srv.Close()
	cfg.BaseURL = srv.URL
	hc := httpapi.NewClient(httpapi.Options{RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond})
	api := cfg.API(hc)
	s, _ := Scenario{Outcome: "declined", UserID: "u-poll"}.Script(t0.Add(time.Minute))
	emu.Put(Name, s.SessionID, s.API)
	r, err := api.Poll(context.Background(), activities.SessionRef{SessionID: s.SessionID})
	want := activities.PollResult{Found: true, ProviderStatus: "declined", DecidedAt: t0, UserID: "u-poll", UserIDSource: "customer_user_id"}
	if err != nil || r != want {
		t.Fatalf("got %+v %v", r, err)
	}
	ev, _ := (&Webhooks{}).Parse(s.Steps[1][0])
	if !ev.OccurredAt.Equal(r.DecidedAt) {
		t.Fatalf("webhook time %s, poll time %s", ev.OccurredAt, r.DecidedAt)
	}
	d, err := api.Details(context.Background(), activities.SessionRef{SessionID: s.SessionID})
	if err != nil || d.UserID != "u-poll" || d.UserIDSource != "customer_user_id" {
		t.Fatalf("details %+v %v", d, err)
	}
	emu.Put(ChecksKey, "check-1", CheckObject("check-1", "applicant-1", "complete", "consider", t0))
	r, err = api.Poll(context.Background(), activities.SessionRef{SessionID: "check-1"})
	if err != nil || r.ProviderStatus != "review" || r.UserID != "applicant-1" {
		t.Fatalf("check: %+v %v", r, err)
	}
	_, err = (&Config{APIToken: "api_sandbox.wrong", BaseURL: srv.URL}).API(hc).Poll(context.Background(), activities.SessionRef{SessionID: s.SessionID})
	var apiErr *httpapi.APIError
	if !errors.As(err, &apiErr) || apiErr.Retryable || apiErr.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "ONFIDO_API_TOKEN") {
		t.Fatalf("wrong token: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(vector(f, "published-check-completed.json")))
	f.Add([]byte(vector(f, "run-declined.json")))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := (&Webhooks{}).Parse(b)
		if err != nil {
			var m *webhook.MalformedError
			if !errors.As(err, &m) && !errors.Is(err, webhook.ErrIgnored) {
				t.Fatalf("Parse answered %v", err)
			}
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("an event the receiver refuses: %v", err)
		}
		if ev.Kind == workflows.KindDecision && ev.Decision == "" {
			t.Fatal("a decision without a status")
		}
	})
}

func FuzzVerify(f *testing.F) {
	body := []byte(vector(f, "run-declined.json"))
	f.Add(vector(f, "run-declined.sig"))
	f.Add("")
	f.Add(strings.Repeat("0", 64))
	tokens := [][]byte{[]byte(vectorOld)}
	f.Fuzz(func(t *testing.T, sig string) {
		if Verify(tokens, sig, body) == nil && !strings.EqualFold(sig, Sign(tokens[0], body)) {
			t.Fatalf("checked %q without its digest", sig)
		}
	})
}

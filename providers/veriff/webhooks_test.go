package veriff_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// The Veriff seed guide's mock credentials (testdata/README.md).
const (
	seedSecret = "abcdef12-abcd-abcd-abcd-abcdef012345"
	seedClient = "8e4f7cd8-7a19-4d7d-971f-a076407ee03c"
	seedSig    = "01fa3ded011bfce75672c99877a6cc1cf7aeaeda0ccb6b43fc21b60f595063c2"
	sessionID  = "12df6045-3846-3e45-946a-14fa6136d78b"
)

func vector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "veriff", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func headers(client, sig string) http.Header {
	return http.Header{"X-Auth-Client": {client}, "X-Hmac-Signature": {sig}}
}

func sign(secret string, body []byte) string { return veriff.Sign([]byte(secret), body) }

func TestSeedVectorIsAuthentic(t *testing.T) {
	body := vector(t, "decision-approved.seed.json")
	if got := strings.TrimSpace(string(vector(t, "decision-approved.seed.sig"))); got != seedSig {
		t.Fatalf("seed .sig file is %q, want the guide's %q", got, seedSig)
	}
	p := veriff.NewWebhooks(seedClient, []string{seedSecret})
	plain, err := p.Authenticate(headers(seedClient, seedSig), body)
	if err != nil {
		t.Fatalf("seed vector rejected: %v", err)
	}
	if string(plain) != string(body) {
		t.Fatal("Authenticate must return the body unchanged")
	}
}

func TestAllVectorsAuthentic(t *testing.T) {
	p := veriff.NewWebhooks(seedClient, []string{seedSecret})
	for _, name := range []string{"event-started", "event-submitted", "watchlist-screening"} {
		body := vector(t, name+".json")
		sig := strings.TrimSpace(string(vector(t, name+".sig")))
		if _, err := p.Authenticate(headers(seedClient, sig), body); err != nil {
			t.Errorf("%s rejected: %v", name, err)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	body := vector(t, "decision-approved.seed.json")
	flipped := append([]byte{}, body...)
	flipped[10] ^= 0x01
	other := []byte(`{"id":"x"}`)

	cases := []struct {
		name    string
		secrets []string
		header  http.Header
		body    []byte
		ok      bool
	}{
		{"seed", []string{seedSecret}, headers(seedClient, seedSig), body, true},
		{"uppercase hex", []string{seedSecret}, headers(seedClient, strings.ToUpper(seedSig)), body, true},
		{"vrf- headers", []string{seedSecret}, http.Header{"Vrf-Auth-Client": {seedClient}, "Vrf-Hmac-Signature": {seedSig}}, body, true},
		{"second of two secrets (rotation)", []string{"new-secret", seedSecret}, headers(seedClient, seedSig), body, true},
		{"flipped byte", []string{seedSecret}, headers(seedClient, seedSig), flipped, false},
		{"wrong client key", []string{seedSecret}, headers("another-client", seedSig), body, false},
		{"missing client key", []string{seedSecret}, http.Header{"X-Hmac-Signature": {seedSig}}, body, false},
		{"empty signature", []string{seedSecret}, headers(seedClient, ""), body, false},
		{"truncated signature", []string{seedSecret}, headers(seedClient, seedSig[:63]), body, false},
		{"short even signature", []string{seedSecret}, headers(seedClient, seedSig[:32]), body, false},
		{"non-hex signature", []string{seedSecret}, headers(seedClient, strings.Repeat("zz", 32)), body, false},
		{"valid signature of another body", []string{seedSecret}, headers(seedClient, sign(seedSecret, other)), body, false},
		{"wrong secret", []string{"not-the-secret"}, headers(seedClient, seedSig), body, false},
		{"re-serialised body", []string{seedSecret}, headers(seedClient, seedSig), indent(t, body), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := veriff.NewWebhooks(seedClient, tc.secrets)
			_, err := p.Authenticate(tc.header, tc.body)
			if tc.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tc.ok && !errors.Is(err, webhook.ErrUnauthenticated) {
				t.Fatalf("got %v, want ErrUnauthenticated", err)
			}
		})
	}
}

func indent(t *testing.T, b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return out
}

func TestParseVectors(t *testing.T) {
	p := veriff.NewWebhooks(seedClient, []string{seedSecret})
	decisionAt := time.Date(2019, 11, 6, 7, 18, 36, 916000000, time.UTC)
	cases := []struct {
		file string
		want workflows.Event
	}{
		{"decision-approved.seed.json", workflows.Event{
			Type: "decision", Kind: workflows.KindDecision, Decision: workflows.StatusApproved,
			ProviderStatus: "approved", OccurredAt: decisionAt, UserID: "12345678", UserIDSource: "vendorData",
		}},
		{"event-started.json", workflows.Event{
			Type: "event:started", Kind: workflows.KindProgress, ProviderStatus: "started",
			UserID: "12345678", UserIDSource: "vendorData", AttemptID: "e30122d1-740b-4764-853f-470374a7abf4",
		}},
		{"event-submitted.json", workflows.Event{
			Type: "event:submitted", Kind: workflows.KindProcessed, ProviderStatus: "submitted",
			UserID: "12345678", UserIDSource: "vendorData", AttemptID: "e30122d1-740b-4764-853f-470374a7abf4",
		}},
		{"watchlist-screening.json", workflows.Event{
			Type: "watchlist:initial_result", Kind: workflows.KindScreening, ProviderStatus: "no_match",
			OccurredAt: time.Date(2019, 11, 6, 7, 20, 0, 0, time.UTC),
			UserID:     "12345678", UserIDSource: "vendorData", AttemptID: "e30122d1-740b-4764-853f-470374a7abf4",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			body := vector(t, tc.file)
			got, err := p.Parse(body)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got.ID == "" {
				t.Fatal("event without id")
			}
			want := tc.want
			want.ID, want.Provider, want.SessionID = got.ID, veriff.Name, sessionID
			if got != want {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
			again, _ := p.Parse(body)
			if again.ID != got.ID {
				t.Fatal("the same webhook must always get the same event id")
			}
			assertNoPII(t, got)
		})
	}
}

// assertNoPII checks that nothing personal from the seed payload reaches the
// event that is sent to Temporal.
func assertNoPII(t *testing.T, ev workflows.Event) {
	t.Helper()
	b, _ := json.Marshal(ev)
	for _, pii := range []string{"MORGAN", "SARAH", "1967", "MORGA753116SM9IJ", "Snowy", "186.153.67.122", "Sarah Morgan"} {
		if strings.Contains(string(b), pii) {
			t.Fatalf("event carries personal data %q: %s", pii, b)
		}
	}
}

func TestParse(t *testing.T) {
	p := veriff.NewWebhooks(seedClient, []string{seedSecret})
	cases := []struct {
		name      string
		body      string
		kind      workflows.Kind
		decision  workflows.Status
		err       error // webhook.ErrIgnored, or malformed when non-nil and not ErrIgnored
		malformed bool
	}{
		{name: "resubmission", body: `{"status":"success","verification":{"id":"s-1","attemptId":"a","status":"resubmission_requested","code":9103,"reasonCode":103,"decisionTime":"2024-01-01T00:00:00Z"}}`,
			kind: workflows.KindDecision, decision: workflows.StatusResubmissionRequested},
		{name: "unknown decision status is kept, non-final", body: `{"verification":{"id":"s-1","status":"brand_new","decisionTime":"2024-01-01T00:00:00Z"}}`,
			kind: workflows.KindDecision, decision: "brand_new"},
		{name: "full auto", body: `{"eventType":"fullauto","sessionId":"s-2","attemptId":"a","data":{"verification":{"decision":"approved","decisionScore":0.9}}}`,
			kind: workflows.KindDecision, decision: workflows.StatusApproved},
		{name: "unknown type with session", body: `{"sessionId":"s-3","attemptId":"a","registry":"INE","result":{}}`, kind: workflows.KindOther},
		{name: "unknown type without session", body: `{"hello":"world"}`, err: webhook.ErrIgnored},
		{name: "decision without session id", body: `{"verification":{"status":"approved"}}`, malformed: true},
		{name: "decision without status", body: `{"verification":{"id":"s-1"}}`, malformed: true},
		{name: "session id with slash", body: `{"verification":{"id":"a/../b","status":"approved"}}`, malformed: true},
		{name: "session id too long", body: `{"verification":{"id":"` + strings.Repeat("a", 200) + `","status":"approved"}}`, malformed: true},
		{name: "not an object", body: `[1,2,3]`, malformed: true},
		{name: "not JSON", body: `approved`, malformed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := p.Parse([]byte(tc.body))
			var m *webhook.MalformedError
			switch {
			case tc.malformed:
				if !errors.As(err, &m) {
					t.Fatalf("got %v, want a malformed error", err)
				}
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
			default:
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				if ev.Kind != tc.kind || ev.Decision != tc.decision {
					t.Fatalf("got kind %q decision %q, want %q %q", ev.Kind, ev.Decision, tc.kind, tc.decision)
				}
				if err := ev.Validate(); err != nil {
					t.Fatalf("parsed event invalid: %v", err)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"decision-approved.seed.json", "event-started.json", "event-submitted.json", "watchlist-screening.json"} {
		f.Add(vector(f, name))
	}
	f.Add([]byte(`{"eventType":"fullauto","sessionId":"s","data":{"verification":{"decision":"approved"}}}`))
	f.Add([]byte(`{"verification":null}`))
	p := veriff.NewWebhooks(seedClient, []string{seedSecret})
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := p.Parse(body)
		if err != nil {
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("Parse accepted a body but returned an invalid event: %v", err)
		}
		if webhook.CheckSessionID(ev.SessionID) != nil {
			t.Fatalf("Parse accepted session id %q", ev.SessionID)
		}
	})
}

func FuzzAuthenticate(f *testing.F) {
	f.Add(vector(f, "decision-approved.seed.json"), seedSig)
	f.Add([]byte("{}"), "")
	p := veriff.NewWebhooks(seedClient, []string{seedSecret})
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		_, err := p.Authenticate(headers(seedClient, sig), body)
		want := sign(seedSecret, body)
		if err == nil && !strings.EqualFold(sig, want) {
			t.Fatalf("accepted a signature that is not the HMAC of the body")
		}
	})
}

// TestIntegrations: the client key picks the integration, and only that
// integration's secrets sign for it.
func TestIntegrations(t *testing.T) {
	p := veriff.NewIntegrations(
		veriff.Integration{Name: "web", APIKey: "web-key", SharedSecrets: []string{"web-secret"}},
		veriff.Integration{Name: "mobile", APIKey: "mobile-key", SharedSecrets: []string{"mobile-new", "mobile-old"}},
	)
	body := []byte(`{"id":"x"}`)
	for name, tc := range map[string]struct {
		client, secret string
		integration    string // "" when refused
	}{
		"web":                  {"web-key", "web-secret", "web"},
		"mobile, current":      {"mobile-key", "mobile-new", "mobile"},
		"mobile, rotated out":  {"mobile-key", "mobile-old", "mobile"},
		"web's secret, mobile": {"mobile-key", "web-secret", ""},
		"mobile's secret, web": {"web-key", "mobile-new", ""},
		"unknown key":          {"other-key", "web-secret", ""},
		"no key":               {"", "web-secret", ""},
	} {
		h := headers(tc.client, sign(tc.secret, body))
		_, integration, err := p.AuthenticateIntegration(h, body)
		if (err == nil) != (tc.integration != "") {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if integration != tc.integration {
			t.Errorf("%s: integration %q, want %q", name, integration, tc.integration)
		}
	}
}

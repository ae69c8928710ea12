package persona

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

var (
	t0  = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	inq = "inq_TestInquiry000000000001"
)

func body(name string, created time.Time, status string, at Times) []byte {
	return EventBody("evt_Test000000000000000001", name, created, InquiryObject(inq, "user-1", status, at))
}

// Each event name means what docs/providers.md says: decisions from the
// verdicts, review and expiry, ordered by the inquiry's own time; the
// rest progress or the processed milestone; anything else acknowledged
// and ignored.
func TestEventMapping(t *testing.T) {
	decidedAt, expiredAt := t0.Add(3*time.Minute), t0.Add(24*time.Hour)
	done := Times{Created: t0, Started: t0, Completed: t0.Add(time.Minute)}
	with := func(f func(*Times)) Times { x := done; f(&x); return x }
	for _, tc := range []struct {
		name     string
		body     []byte
		kind     workflows.Kind
		decision workflows.Status
		at       time.Time
	}{
		{"created is progress", body("inquiry.created", t0, "created", Times{Created: t0}), workflows.KindProgress, "", t0},
		{"started is progress", body("inquiry.started", t0, "pending", Times{Created: t0, Started: t0}), workflows.KindProgress, "", t0},
		{"transitioned is progress", body("inquiry.transitioned", t0, "pending", Times{Created: t0}), workflows.KindProgress, "", t0},
		{"completed is processed, no decision", body("inquiry.completed", t0.Add(time.Minute), "completed", done), workflows.KindProcessed, "", t0.Add(time.Minute)},
		{"failed is processed, no decision", body("inquiry.failed", t0.Add(time.Minute), "failed", Times{Created: t0, Failed: t0}), workflows.KindProcessed, "", t0.Add(time.Minute)},
		{"approved at decisioned-at", body("inquiry.approved", decidedAt.Add(time.Second), "approved", with(func(x *Times) { x.Decisioned = decidedAt })),
			workflows.KindDecision, workflows.StatusApproved, decidedAt},
		{"declined at decisioned-at", body("inquiry.declined", decidedAt, "declined", with(func(x *Times) { x.Decisioned = decidedAt })),
			workflows.KindDecision, workflows.StatusDeclined, decidedAt},
		{"marked-for-review is review at marked-for-review-at", body("inquiry.marked-for-review", decidedAt.Add(time.Second), "needs_review", with(func(x *Times) { x.MarkedForReview = decidedAt })),
			workflows.KindDecision, workflows.StatusReview, decidedAt},
		{"expired at expired-at", body("inquiry.expired", expiredAt.Add(time.Second), "expired", Times{Created: t0, Expired: expiredAt}),
			workflows.KindDecision, workflows.StatusExpired, expiredAt},
		{"a decision without decisioned-at at the event's created-at", body("inquiry.approved", decidedAt, "approved", done),
			workflows.KindDecision, workflows.StatusApproved, decidedAt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := (&Webhooks{}).Parse(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			want := workflows.Event{ID: "event/evt_Test000000000000000001", Provider: Name, SessionID: inq, Type: ev.Type,
				Kind: tc.kind, Decision: tc.decision, ProviderStatus: ev.ProviderStatus, OccurredAt: tc.at,
				UserID: "user-1", UserIDSource: "reference-id"}
			if ev != want {
				t.Fatalf("got  %+v\nwant %+v", ev, want)
			}
		})
	}
}

// Events idvflow does not model are acknowledged, never refused.
func TestUnknownEventsAreIgnored(t *testing.T) {
	for _, name := range []string{"verification.passed", "report/watchlist.ready", "case.created", "inquiry.reusable-persona-created", "account.created"} {
		_, err := (&Webhooks{}).Parse(EventBody("evt_1", name, t0, sim.Object{{Key: "type", Value: "verification"}, {Key: "id", Value: "ver_1"}}))
		if !errors.Is(err, webhook.ErrIgnored) {
			t.Errorf("%s: got %v, want ErrIgnored", name, err)
		}
	}
}

// Authentic events that cannot be used are refused with 400, naming the
// field (R9), never quoting it.
func TestMalformedEventsAreRefused(t *testing.T) {
	good := string(body("inquiry.approved", t0, "approved", Times{Created: t0, Decisioned: t0}))
	for _, tc := range []struct{ name, body, field string }{
		{"not JSON", "approved", "JSON object"},
		{"not an event", strings.Replace(good, `"type":"event"`, `"type":"inquiry"`, 1), "data.type"},
		{"no event id", strings.Replace(good, `"id":"evt_Test000000000000000001"`, `"id":""`, 1), "data.id"},
		{"no name", strings.Replace(good, `"name":"inquiry.approved"`, `"name":""`, 1), "data.attributes.name"},
		{"no created-at", strings.Replace(good, `,"created-at":"2026-05-04T09:00:00.000Z"}}}`, `}}}`, 1), "created-at"},
		{"created-at not a time", strings.Replace(good, `"created-at":"2026-05-04T09:00:00.000Z"}}}`, `"created-at":"yesterday"}}}`, 1), "created-at"},
		{"decisioned-at not a time", strings.Replace(good, `"decisioned-at":"2026-05-04T09:00:00.000Z"`, `"decisioned-at":"soon"`, 1), "decisioned-at"},
		{"payload not an inquiry", strings.Replace(good, `"type":"inquiry"`, `"type":"account"`, 1), "payload"},
		{"inquiry id with a slash", strings.Replace(good, inq, "inq_../x", 1), "session id"},
		{"field name in another case", strings.Replace(good, `"reference-id"`, `"Reference-ID"`, 1), "another case"},
		{"field given twice", strings.Replace(good, `"status":"approved"`, `"status":"approved","status":"declined"`, 1), "twice"},
		{"user id over 255 bytes", strings.Replace(good, `"user-1"`, `"`+strings.Repeat("u", 256)+`"`, 1), "user id"},
		{"user id with a NUL", strings.Replace(good, `"user-1"`, `"user\u00001"`, 1), "user id"},
		{"time before 2000", strings.ReplaceAll(good, "2026-05-04", "1999-05-04"), "event time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&Webhooks{}).Parse([]byte(tc.body))
			var m *webhook.MalformedError
			if !errors.As(err, &m) || !strings.Contains(m.Reason, tc.field) {
				t.Fatalf("got %v, want a malformed error naming %q", err, tc.field)
			}
		})
	}
}

// Authenticate answers every failure with ErrUnauthenticated, and a
// genuine but stale signature with ErrStale as well, so it is counted
// apart.
func TestAuthenticateTellsStaleApart(t *testing.T) {
	w, err := NewWebhooks([]string{vectorOld}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	w.now = func() time.Time { return vectorNow }
	b := []byte(vector(t, "event-approved.json"))
	for _, tc := range []struct {
		name, header string
		ok, stale    bool
	}{
		{"genuine", vector(t, "event-approved.sig"), true, false},
		{"rotated", vector(t, "event-approved.rotated.sig"), true, false},
		{"stale", vector(t, "event-approved.stale.sig"), false, true},
		{"forged", strings.Replace(vector(t, "event-approved.sig"), "v1=d", "v1=e", 1), false, false},
		{"none", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := w.Authenticate(http.Header{"Persona-Signature": {tc.header}}, b)
			switch {
			case tc.ok && (err != nil || !bytes.Equal(got, b)):
				t.Fatalf("refused: %v", err)
			case !tc.ok && !errors.Is(err, webhook.ErrUnauthenticated):
				t.Fatalf("got %v, want ErrUnauthenticated", err)
			case errors.Is(err, webhook.ErrStale) != tc.stale:
				t.Fatalf("got %v, stale %v", err, tc.stale)
			}
		})
	}
	// The vector's event, parsed: its decision at decisioned-at.
	ev, err := w.Parse(b)
	if err != nil || ev.Decision != workflows.StatusApproved || !ev.OccurredAt.Equal(time.Date(2026, 5, 4, 9, 3, 0, 0, time.UTC)) || ev.UserID != "user-vector-1" {
		t.Fatalf("parsed %+v, %v", ev, err)
	}
}

// The configuration refuses what would switch the time check off or weaken
// it, and names variables, never values.
func TestConfigRefusesWeakSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"zero tolerance", Config{WebhookSecrets: []string{DevWebhookSecret}, Tolerance: 0}, "PERSONA_SIGNATURE_TOLERANCE must be positive"},
		{"negative tolerance", Config{WebhookSecrets: []string{DevWebhookSecret}, Tolerance: -time.Minute}, "PERSONA_SIGNATURE_TOLERANCE must be positive"},
		{"a day's tolerance", Config{WebhookSecrets: []string{DevWebhookSecret}, Tolerance: 24 * time.Hour}, "PERSONA_SIGNATURE_TOLERANCE is over"},
		{"short secret", Config{WebhookSecrets: []string{"wbhsec_1"}, Tolerance: time.Minute}, "PERSONA_WEBHOOK_SECRETS is shorter"},
		{"placeholder key", Config{Tolerance: time.Minute, APIKey: "your-persona-api-key"}, "PERSONA_API_KEY is a placeholder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.cfg.Validate()
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("got %v, want %q", errs, tc.want)
			}
			for _, s := range append(tc.cfg.WebhookSecrets, tc.cfg.APIKey) {
				if s != "" && strings.Contains(errs[0].Error(), s) {
					t.Fatalf("the message quotes a value: %v", errs[0])
				}
			}
		})
	}
	if errs := (&Config{WebhookSecrets: []string{DevWebhookSecret}, Tolerance: 5 * time.Minute, APIKey: DevAPIKey}).Validate(); len(errs) > 0 {
		t.Fatalf("the dev settings are refused: %v", errs)
	}
}

// The seed corpus (the vector, the scenario's events) runs in every go
// test; `go test -fuzz=FuzzParse` looks for a body that panics or yields
// an event the receiver would refuse.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../../testdata/persona/event-approved.json"); err == nil {
		f.Add(b)
	}
	s, _ := Scenario{Outcome: "review", UserID: "u"}.Script(t0)
	for _, step := range s.Steps {
		f.Add(step[0])
	}
	f.Add([]byte(`{"data":{"type":"event","id":"e","attributes":{"name":"inquiry.expired","created-at":"2026-01-01T00:00:00Z","payload":{"data":{"type":"inquiry","id":"inq_1","attributes":null}}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := (&Webhooks{}).Parse(b)
		if err != nil {
			var m *webhook.MalformedError
			if !errors.As(err, &m) && !errors.Is(err, webhook.ErrIgnored) {
				t.Fatalf("Parse answered %v: neither malformed nor ignored", err)
			}
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("Parse gave an event the receiver refuses: %v", err)
		}
		if ev.Kind == workflows.KindDecision && ev.Decision == "" {
			t.Fatal("a decision without a status")
		}
	})
}

// `go test -fuzz=FuzzSignatureHeader` looks for a header that panics the
// parser, or checks without the secret.
func FuzzSignatureHeader(f *testing.F) {
	if b, err := os.ReadFile("../../testdata/persona/event-approved.rotated.sig"); err == nil {
		f.Add(string(b))
	}
	f.Add("t=1777885380,v1=" + strings.Repeat("0", 64))
	f.Add("t=,v1= t=1,v1=00")
	f.Add("v1=ab,t=12 ,, t=9999999999999")
	secret := [][]byte{[]byte(vectorOld)}
	body := []byte(`{"data":{}}`)
	f.Fuzz(func(t *testing.T, h string) {
		err := Verify(secret, h, body, vectorNow, 5*time.Minute)
		if err == nil {
			// Only a header that carries the real digest can check.
			sets, perr := parseHeader(h)
			if perr != nil {
				t.Fatalf("checked a header the parser refuses: %v", perr)
			}
			ok := false
			for _, s := range sets {
				ok = ok || strings.Contains(strings.ToLower(h), Sign(secret[0], s.t, body))
			}
			if !ok {
				t.Fatalf("checked %q without its digest", h)
			}
		}
	})
}

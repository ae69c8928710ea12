package sumsub

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

var (
	t0  = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	app = Subject{ID: "6650f2a1c3d4e5f600000001", InspectionID: "6650f2a1c3d4e5f600000002", UserID: "user-1"}
)

// Each type means what docs/providers.md says: applicantReviewed's verdict
// from reviewAnswer and reviewRejectType, onHold a review; prechecked the
// processed milestone; the rest progress; all ordered by createdAtMs.
func TestEventMapping(t *testing.T) {
	at := t0.Add(1500 * time.Millisecond)
	for _, tc := range []struct {
		name, typ, status string
		result            *Result
		kind              workflows.Kind
		decision          workflows.Status
		reason            string
	}{
		{"created is progress", "applicantCreated", "init", nil, workflows.KindProgress, "", ""},
		{"pending is progress", "applicantPending", "pending", nil, workflows.KindProgress, "", ""},
		{"reset is progress, not a decision", "applicantReset", "init", nil, workflows.KindProgress, "", ""},
		{"level changed is progress", "applicantLevelChanged", "init", nil, workflows.KindProgress, "", ""},
		{"workflow completed is progress", "applicantWorkflowCompleted", "completed", nil, workflows.KindProgress, "", ""},
		{"prechecked is processed", "applicantPrechecked", "prechecked", nil, workflows.KindProcessed, "", ""},
		{"on hold is review", "applicantOnHold", "onHold", nil, workflows.KindDecision, workflows.StatusReview, ""},
		{"GREEN is approved", "applicantReviewed", "completed", &Result{Answer: "GREEN"}, workflows.KindDecision, workflows.StatusApproved, ""},
		{"RED FINAL is declined, its labels the reason", "applicantReviewed", "completed",
			&Result{Answer: "RED", RejectType: "FINAL", Labels: []string{"FORGERY", "DOCUMENT_TEMPLATE"}},
			workflows.KindDecision, workflows.StatusDeclined, "DOCUMENT_TEMPLATE,FORGERY"},
		{"RED RETRY is resubmission requested", "applicantReviewed", "completed",
			&Result{Answer: "RED", RejectType: "RETRY", Labels: []string{"UNSATISFACTORY_PHOTOS"}},
			workflows.KindDecision, workflows.StatusResubmissionRequested, "UNSATISFACTORY_PHOTOS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := (&Webhooks{}).Parse(WebhookBody(app, tc.typ, at, tc.status, tc.result))
			if err != nil {
				t.Fatal(err)
			}
			id := tc.typ + "/2026-05-04T09:00:01.5Z"
			if tc.result != nil {
				id += "/" + string(tc.decision) + "/" + tc.reason
			}
			want := workflows.Event{ID: id, Provider: Name, SessionID: app.ID, Type: tc.typ, Kind: tc.kind, Decision: tc.decision,
				ProviderStatus: tc.status, ReasonCode: tc.reason, OccurredAt: at, UserID: "user-1", UserIDSource: "externalUserId"}
			if ev != want {
				t.Fatalf("got  %+v\nwant %+v", ev, want)
			}
		})
	}
}

// A resend is the same webhook (one identity) even with another
// correlationId; the same type at another time is another event.
func TestEventIdentity(t *testing.T) {
	r := &Result{Answer: "GREEN"}
	a, _ := (&Webhooks{}).Parse(WebhookBody(app, "applicantReviewed", t0, "completed", r))
	b, _ := (&Webhooks{}).Parse(WebhookBody(app, "applicantReviewed", t0, "completed", r)) // a new correlationId
	c, _ := (&Webhooks{}).Parse(WebhookBody(app, "applicantReviewed", t0.Add(time.Millisecond), "completed", r))
	if a.ID == "" || a.ID != b.ID || a.ID == c.ID {
		t.Fatalf("ids %q %q %q", a.ID, b.ID, c.ID)
	}
}

// Types idvflow does not model are acknowledged, never refused.
func TestUnknownTypesAreIgnored(t *testing.T) {
	for _, typ := range []string{"applicantActionPending", "applicantActionReviewed", "applicantActionOnHold", "applicantPersonalInfoChanged",
		"applicantDeleted", "applicantTagsChanged", "applicantDeactivated", "videoIdentStatusChanged", "kytTxnApproved", "somethingNew"} {
		_, err := (&Webhooks{}).Parse(WebhookBody(app, typ, t0, "pending", nil))
		if !errors.Is(err, webhook.ErrIgnored) {
			t.Errorf("%s: got %v, want ErrIgnored", typ, err)
		}
	}
}

// Authentic webhooks that cannot be used are refused with 400, naming the
// field (R9), never quoting it.
func TestMalformedWebhooksAreRefused(t *testing.T) {
	good := string(WebhookBody(app, "applicantReviewed", t0, "completed", &Result{Answer: "RED", RejectType: "FINAL", Labels: []string{"FORGERY"}}))
	for _, tc := range []struct{ name, body, field string }{
		{"not JSON", "applicantReviewed", "JSON object"},
		{"no type", strings.Replace(good, `"type" : "applicantReviewed"`, `"type" : ""`, 1), "type"},
		{"no applicant id", strings.Replace(good, app.ID, "", 1), "session id"},
		{"applicant id with a slash", strings.Replace(good, app.ID, "../x", 1), "session id"},
		{"no createdAtMs", strings.Replace(good, `"createdAtMs" : "2026-05-04 09:00:00.000"`, `"createdAtMs" : null`, 1), "createdAtMs"},
		{"createdAtMs not a time", strings.Replace(good, `"createdAtMs" : "2026-05-04 09:00:00.000"`, `"createdAtMs" : "yesterday"`, 1), "createdAtMs"},
		{"createdAtMs in ISO form", strings.Replace(good, `"createdAtMs" : "2026-05-04 09:00:00.000"`, `"createdAtMs" : "2026-05-04T09:00:00Z"`, 1), "createdAtMs"},
		{"no reviewResult", strings.Replace(good, `"reviewResult"`, `"reviewResultX"`, 1), "reviewResult"},
		{"YELLOW", strings.Replace(good, `"RED"`, `"YELLOW"`, 1), "reviewAnswer"},
		{"RED without reject type", strings.Replace(good, `"FINAL"`, `""`, 1), "reviewRejectType"},
		{"field name in another case", strings.Replace(good, `"externalUserId"`, `"ExternalUserId"`, 1), "another case"},
		{"field given twice", strings.Replace(good, `"reviewStatus" : "completed"`, `"reviewStatus" : "completed", "reviewStatus" : "init"`, 1), "twice"},
		{"user id over 255 bytes", strings.Replace(good, `"user-1"`, `"`+strings.Repeat("u", 256)+`"`, 1), "user id"},
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

// Authenticate checks the vector on the raw bytes; every failure is
// ErrUnauthenticated; the parsed vector is RED RETRY for user-vector-1.
func TestAuthenticateTheVector(t *testing.T) {
	w, err := NewWebhooks([]string{vectorNew, vectorOld}, DefaultAlgs)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(vector(t, "applicant-reviewed-red-retry.json"))
	for _, tc := range []struct {
		name, alg, digest string
		ok                bool
	}{
		{"SHA-256", "HMAC_SHA256_HEX", vector(t, "applicant-reviewed-red-retry.sha256"), true},
		{"SHA-512", "HMAC_SHA512_HEX", vector(t, "applicant-reviewed-red-retry.sha512"), true},
		{"the new secret", "HMAC_SHA256_HEX", vector(t, "applicant-reviewed-red-retry.new.sha256"), true},
		{"SHA-1 not allowed", "HMAC_SHA1_HEX", vector(t, "applicant-reviewed-red-retry.sha1"), false},
		{"no algorithm", "", vector(t, "applicant-reviewed-red-retry.sha256"), false},
		{"none", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := w.Authenticate(http.Header{DigestAlgHeader: {tc.alg}, DigestHeader: {tc.digest}}, b)
			switch {
			case tc.ok && (err != nil || !bytes.Equal(got, b)):
				t.Fatalf("refused: %v", err)
			case !tc.ok && !errors.Is(err, webhook.ErrUnauthenticated):
				t.Fatalf("got %v, want ErrUnauthenticated", err)
			}
		})
	}
	ev, err := w.Parse(b)
	if err != nil || ev.Decision != workflows.StatusResubmissionRequested || ev.ReasonCode != "SCREENSHOTS,UNSATISFACTORY_PHOTOS" ||
		!ev.OccurredAt.Equal(time.Date(2026, 5, 4, 9, 3, 0, 125e6, time.UTC)) || ev.UserID != "user-vector-1" || ev.SessionID != "6650f2a1c3d4e5f60718293a" {
		t.Fatalf("parsed %+v, %v", ev, err)
	}
}

// The configuration refuses what would weaken the check or cannot work,
// and names variables, never values.
func TestConfigRefusesWeakSettings(t *testing.T) {
	base := func(f func(*Config)) *Config {
		c := Config{WebhookSecrets: []string{DevWebhookSecret}, DigestAlgs: []string{"HMAC_SHA256_HEX", "HMAC_SHA512_HEX"}, AppToken: DevAppToken, SecretKey: DevSecretKey}
		f(&c)
		return &c
	}
	for _, tc := range []struct {
		name string
		cfg  *Config
		want string
	}{
		{"no algorithm", base(func(c *Config) { c.DigestAlgs = nil }), "SUMSUB_DIGEST_ALGS is empty"},
		{"an unknown algorithm", base(func(c *Config) { c.DigestAlgs = []string{"NONE"} }), "SUMSUB_DIGEST_ALGS names an unknown"},
		{"short secret", base(func(c *Config) { c.WebhookSecrets = []string{"s3cr3t-v4l"} }), "SUMSUB_WEBHOOK_SECRETS is shorter"},
		{"the published example's secret", base(func(c *Config) { c.WebhookSecrets = []string{publishedSecret} }), "published example"},
		{"token without its secret key", base(func(c *Config) { c.SecretKey = "" }), "go together"},
		{"secret key without a token", base(func(c *Config) { c.AppToken = "" }), "go together"},
		{"placeholder token", base(func(c *Config) { c.AppToken = "your-sumsub-app-token" }), "SUMSUB_APP_TOKEN is a placeholder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.cfg.Validate()
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("got %v, want %q", errs, tc.want)
			}
			for _, s := range append(tc.cfg.WebhookSecrets, tc.cfg.AppToken, tc.cfg.SecretKey) {
				if len(s) > 3 && strings.Contains(errs[0].Error(), s) {
					t.Fatalf("the message quotes a value: %v", errs[0])
				}
			}
		})
	}
	if errs := base(func(*Config) {}).Validate(); len(errs) > 0 {
		t.Fatalf("the dev settings are refused: %v", errs)
	}
	if w := base(func(c *Config) { c.DigestAlgs = []string{"HMAC_SHA1_HEX"} }).Warnings(); len(w) != 1 {
		t.Fatalf("SHA-1 allowed without a warning: %v", w)
	}
}

// The seed corpus (the vector, the scenario's webhooks) runs in every go
// test; `go test -fuzz=FuzzParse` looks for a body that panics or yields
// an event the receiver would refuse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(vector(f, "applicant-reviewed-red-retry.json")))
	for _, o := range Outcomes {
		s, _ := Scenario{Outcome: o, UserID: "u"}.Script(t0)
		for _, step := range s.Steps {
			f.Add(step[0])
		}
	}
	f.Add([]byte(`{"type":"applicantReviewed","applicantId":"a1","createdAtMs":1777885380125,"reviewResult":{"reviewAnswer":"GREEN"}}`))
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

// `go test -fuzz=FuzzVerify` looks for headers that panic the check, or
// check without the secret's digest of the body.
func FuzzVerify(f *testing.F) {
	body := []byte(vector(f, "applicant-reviewed-red-retry.json"))
	f.Add("HMAC_SHA256_HEX", vector(f, "applicant-reviewed-red-retry.sha256"))
	f.Add("HMAC_SHA512_HEX", vector(f, "applicant-reviewed-red-retry.sha512"))
	f.Add("HMAC_SHA1_HEX", vector(f, "applicant-reviewed-red-retry.sha1"))
	f.Add("", "00")
	f.Add("HMAC_SHA256_HEX ", strings.Repeat("0", 64))
	secrets := [][]byte{[]byte(vectorOld)}
	f.Fuzz(func(t *testing.T, alg, digest string) {
		if Verify(secrets, DefaultAlgs, alg, digest, body) != nil {
			return
		}
		if alg != string(SHA256) && alg != string(SHA512) {
			t.Fatalf("checked with algorithm %q", alg)
		}
		if !strings.EqualFold(digest, Sign(Alg(alg), secrets[0], body)) {
			t.Fatalf("checked %q without its digest", digest)
		}
	})
}

package passbase_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

const (
	secret   = "passbase-demo-webhook-secret-32b"
	identity = "b76e244e-26a3-49ef-9c72-3e599bf0b5f2"
)

var textPlain = http.Header{"Content-Type": {"text/plain"}}

func vector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "passbase", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newProvider(t testing.TB, secrets ...string) *passbase.Webhooks {
	t.Helper()
	p, err := passbase.NewWebhooks(secrets, false)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var vectors = []string{"authentication-processed", "authentication-review-status-changed", "verification-completed", "verification-reviewed"}

func TestDecryptVectors(t *testing.T) {
	p := newProvider(t, secret)
	for _, name := range vectors {
		t.Run(name, func(t *testing.T) {
			plain, err := p.Authenticate(textPlain, vector(t, name+".enc.txt"))
			if err != nil {
				t.Fatalf("decrypt: %v", err)
			}
			if want := bytes.TrimSpace(vector(t, name+".json")); !bytes.Equal(plain, want) {
				t.Fatalf("plaintext differs:\n got %s\nwant %s", plain, want)
			}
		})
	}
}

// encrypt builds a body the way Passbase does, for cases the vectors lack.
func encrypt(t testing.TB, key string, plain []byte) []byte {
	t.Helper()
	b, err := passbase.Encrypt(key, plain)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAuthenticateFailuresAreIdentical(t *testing.T) {
	good := vector(t, "verification-reviewed.enc.txt")
	raw, _ := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(good)))
	iv := raw[:16]

	// Bad padding: a valid ciphertext whose last block decrypts to a
	// plaintext ending in 0x00.
	badPad := func() []byte {
		b, _ := aes.NewCipher([]byte(secret))
		block := make([]byte, 16) // plaintext block with pad byte 0
		ct := make([]byte, 16)
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, block)
		return []byte(base64.StdEncoding.EncodeToString(append(append([]byte{}, iv...), ct...)))
	}()

	cases := map[string][]byte{
		"bad base64":                           []byte("!!!not base64!!!"),
		"wrong key":                            encrypt(t, "another-secret-of-32-bytes-long!", vector(t, "verification-reviewed.json")),
		"bad padding":                          badPad,
		"non-JSON plaintext":                   encrypt(t, secret, []byte("approved, trust me")),
		"empty body":                           {},
		"IV only":                              []byte(base64.StdEncoding.EncodeToString(iv)),
		"truncated":                            good[:len(good)-8],
		"not a block multiple":                 []byte(base64.StdEncoding.EncodeToString(append(append([]byte{}, raw...), 1, 2, 3))),
		"plain JSON (unencrypted not allowed)": vector(t, "verification-reviewed.json"),
	}
	p := newProvider(t, secret)
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := p.Authenticate(textPlain, body)
			if !errors.Is(err, webhook.ErrUnauthenticated) {
				t.Fatalf("got %v, want ErrUnauthenticated", err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	p := newProvider(t, "a-brand-new-secret-of-32-bytes!!", secret)
	if _, err := p.Authenticate(textPlain, vector(t, "verification-completed.enc.txt")); err != nil {
		t.Fatalf("old secret during rotation rejected: %v", err)
	}
}

func TestKeyLength(t *testing.T) {
	for _, k := range []string{"short", strings.Repeat("x", 31), strings.Repeat("x", 33)} {
		if _, err := passbase.NewWebhooks([]string{k}, false); err == nil {
			t.Errorf("a %d-byte secret must be refused", len(k))
		} else if strings.Contains(err.Error(), k) {
			t.Errorf("the error leaks the secret: %v", err)
		}
	}
}

func TestUnencryptedOnlyWhenAllowed(t *testing.T) {
	body := vector(t, "verification-reviewed.json")
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	if _, err := newProvider(t, secret).Authenticate(jsonHeader, body); !errors.Is(err, webhook.ErrUnauthenticated) {
		t.Fatalf("plain JSON accepted without PASSBASE_ALLOW_UNENCRYPTED: %v", err)
	}
	p, err := passbase.NewWebhooks(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Authenticate(jsonHeader, body); err != nil {
		t.Fatalf("plain JSON refused with PASSBASE_ALLOW_UNENCRYPTED: %v", err)
	}
}

func TestParseVectors(t *testing.T) {
	p := newProvider(t, secret)
	cases := []struct {
		name     string
		kind     workflows.Kind
		decision workflows.Status
		at       int64
		userID   string
	}{
		{"authentication-processed", workflows.KindProcessed, "", 1582628999, "1234567"},
		{"authentication-review-status-changed", workflows.KindDecision, workflows.StatusApproved, 1585782614, "1234567"},
		{"verification-completed", workflows.KindProcessed, workflows.StatusPending, 1582628999, ""},
		{"verification-reviewed", workflows.KindDecision, workflows.StatusApproved, 1582629100, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := p.Parse(bytes.TrimSpace(vector(t, tc.name+".json")))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if ev.SessionID != identity || ev.Provider != passbase.Name {
				t.Fatalf("session %q provider %q", ev.SessionID, ev.Provider)
			}
			if ev.Kind != tc.kind || ev.Decision != tc.decision {
				t.Fatalf("kind %q decision %q, want %q %q", ev.Kind, ev.Decision, tc.kind, tc.decision)
			}
			if !ev.OccurredAt.Equal(time.Unix(tc.at, 0)) {
				t.Fatalf("occurred at %s, want %s", ev.OccurredAt, time.Unix(tc.at, 0).UTC())
			}
			if ev.UserID != tc.userID {
				t.Fatalf("user id %q, want %q", ev.UserID, tc.userID)
			}
			if tc.userID != "" && ev.UserIDSource != "additional_attributes.customer_user_id" {
				t.Fatalf("user id source %q", ev.UserIDSource)
			}
			if err := ev.Validate(); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(ev.ID+ev.UserID+ev.Type, "aofbaofib") {
				t.Fatal("event carries the identifier (an email)")
			}
		})
	}
}

// docs/semantics.md R9: plain bodies next to secrets would let anyone skip
// decryption with Content-Type: application/json.
func TestUnencryptedNeverBesideSecrets(t *testing.T) {
	if _, err := passbase.NewWebhooks([]string{secret}, true); err == nil {
		t.Fatal("PASSBASE_ALLOW_UNENCRYPTED with a secret must be refused")
	}
}

// docs/semantics.md R5: Passbase times are Unix seconds; a value only
// milliseconds can explain is read as milliseconds, zero is no time.
func TestTimestampUnits(t *testing.T) {
	p := newProvider(t, secret)
	want := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, updated := range map[string]int64{"seconds": want.Unix(), "milliseconds": want.UnixMilli()} {
		ev, err := p.Parse([]byte(fmt.Sprintf(`{"event":"VERIFICATION_REVIEWED","key":"k-1","status":"approved","updated":%d}`, updated)))
		if err != nil {
			t.Fatal(err)
		}
		if !ev.OccurredAt.Equal(want) {
			t.Errorf("%s: occurred at %s, want %s", name, ev.OccurredAt, want)
		}
		if err := ev.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	ev, err := p.Parse([]byte(`{"event":"VERIFICATION_REVIEWED","key":"k-1","status":"approved","updated":0}`))
	if err != nil || !ev.OccurredAt.IsZero() {
		t.Fatalf("updated 0: %v, occurred at %s, want no time", err, ev.OccurredAt)
	}
}

func TestParse(t *testing.T) {
	p := newProvider(t, secret)
	cases := []struct {
		name      string
		body      string
		kind      workflows.Kind
		decision  workflows.Status
		ignored   bool
		malformed bool
	}{
		{name: "review declined (older)", body: `{"event":"AUTHENTICATION_REVIEW_STATUS_CHANGED","authentication_key":"k-1","review_status":false,"updated_at":1767225600}`,
			kind: workflows.KindDecision, decision: workflows.StatusDeclined},
		{name: "completed with auto-decision", body: `{"event":"VERIFICATION_COMPLETED","key":"k-1","status":"approved","updated":1767225600}`,
			kind: workflows.KindProcessed, decision: workflows.StatusApproved},
		{name: "watchlist monitoring", body: `{"event":"WATCHLIST_MONITORING","key":"k-1","status":"pending","updated":1767225600}`,
			kind: workflows.KindScreening, decision: workflows.StatusPending},
		{name: "identity authenticated", body: `{"event":"IDENTITY_AUTHENTICATED","key":"k-1","updated":1767225600}`, kind: workflows.KindProgress},
		{name: "datapoint updated", body: `{"event":"DATAPOINT_UPDATED","key":"k-1","updated":1767225600}`, kind: workflows.KindOther},
		{name: "unknown event without key", body: `{"event":"SOMETHING_NEW"}`, ignored: true},
		{name: "review without key", body: `{"event":"VERIFICATION_REVIEWED","status":"approved"}`, malformed: true},
		{name: "review without status", body: `{"event":"AUTHENTICATION_REVIEW_STATUS_CHANGED","authentication_key":"k-1","review_status":null}`, malformed: true},
		{name: "no event name", body: `{"key":"k-1"}`, malformed: true},
		{name: "key with dots and slash", body: `{"event":"VERIFICATION_REVIEWED","key":"../etc","status":"approved"}`, malformed: true},
		{name: "not an object", body: `"VERIFICATION_REVIEWED"`, malformed: true},
		// Field names are exact: encoding/json alone would take these
		// spellings for authentication_key and created_at (found by
		// FuzzParse: accepted here, refused by Validate).
		{name: "field in another case", body: `{"event":"000000000000000000000000","AuthentiCAtion_keY":"000000000000000000000000000000000000","0000000000000":null,"CreAted_At":1}`, malformed: true},
		{name: "field twice", body: `{"event":"VERIFICATION_REVIEWED","key":"k-1","status":"approved","status":"declined","updated":1767225600}`, malformed: true},
		{name: "time out of range", body: `{"event":"VERIFICATION_REVIEWED","key":"k-1","status":"approved","updated":10}`, malformed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := p.Parse([]byte(tc.body))
			var m *webhook.MalformedError
			switch {
			case tc.malformed:
				if !errors.As(err, &m) {
					t.Fatalf("got %v, want malformed", err)
				}
			case tc.ignored:
				if !errors.Is(err, webhook.ErrIgnored) {
					t.Fatalf("got %v, want ErrIgnored", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if ev.Kind != tc.kind || ev.Decision != tc.decision {
					t.Fatalf("kind %q decision %q, want %q %q", ev.Kind, ev.Decision, tc.kind, tc.decision)
				}
			}
		})
	}
}

func FuzzDecrypt(f *testing.F) {
	for _, name := range vectors {
		f.Add(vector(f, name+".enc.txt"))
	}
	f.Add([]byte("AAAA"))
	p := newProvider(f, secret)
	f.Fuzz(func(t *testing.T, body []byte) {
		plain, err := p.Authenticate(textPlain, body)
		if err == nil && len(plain) == 0 {
			t.Fatal("accepted with an empty plaintext")
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, name := range vectors {
		f.Add(bytes.TrimSpace(vector(f, name+".json")))
	}
	p := newProvider(f, secret)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := p.Parse(body)
		if err != nil {
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("invalid event from accepted body: %v", err)
		}
		if webhook.CheckSessionID(ev.SessionID) != nil {
			t.Fatalf("accepted session id %q", ev.SessionID)
		}
	})
}

// A plaintext shaped like an object that is not JSON is not taken for a
// decryption (the next key is tried), and the body is unauthenticated.
func TestObjectShapedGarbageIsUnauthenticated(t *testing.T) {
	p := newProvider(t, secret)
	if _, err := p.Authenticate(textPlain, encrypt(t, secret, []byte("{approved: yes}"))); !errors.Is(err, webhook.ErrUnauthenticated) {
		t.Fatalf("got %v, want ErrUnauthenticated", err)
	}
}

// A genuine body sealed under the second of two secrets whose bytes, under
// the first, have valid padding and a {…} shape (found by brute force: about
// 1 in 2^24 bodies). It must be taken under the second secret, not refused.
func TestRotationWhenTheFirstKeyLooksRight(t *testing.T) {
	const (
		older = "rotation-old-key-0123456789abcde"
		newer = "rotation-new-key-0123456789abcde"
		body  = "GUvo3NRVyLdu+Wcscv9iGgKT5mnNyysQkfgvxOJPPBUTfp9JNXw0EncymUH84UEAGf9cN+h5oQETAumARFO6KG0kqRLdH5w4sYmbEa7xy1BBFCmyyRZrdLO5IqKZJw0mQzMY9DILVtL9YkVKB9q3vymlDnzYfb+FsIbxT/ddRjfp/PZeUzqLPJg1n9JIN2nhK0kplJjrSVbSCLOjPi0TnQ=="
	)
	first, err := passbase.NewWebhooks([]string{older}, false)
	if err != nil {
		t.Fatal(err)
	}
	if plain, ok := first.Decrypt([]byte(body)); ok {
		t.Fatalf("under the first secret alone it decrypts to %q: it must not pass as authentic", plain)
	}
	both, err := passbase.NewWebhooks([]string{older, newer}, false)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := both.Authenticate(http.Header{"Content-Type": {"text/plain"}}, []byte(body))
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	ev, err := both.Parse(plain)
	if err != nil || ev.Decision != "approved" {
		t.Fatalf("parse: %+v, %v; want the approval sealed under the second secret", ev, err)
	}
}

// Without a source allowlist the receiver warns at start: Passbase bodies
// carry no MAC.
func TestWarnsWithoutAllowlist(t *testing.T) {
	if w := (&passbase.Config{WebhookSecrets: []string{secret}}).Warnings(); len(w) != 1 || !strings.Contains(w[0], "PASSBASE_ALLOWED_CIDRS") {
		t.Fatalf("warnings %q, want one naming PASSBASE_ALLOWED_CIDRS", w)
	}
	if w := (&passbase.Config{WebhookSecrets: []string{secret}, Allowed: []string{"192.0.2.0/24"}}).Warnings(); len(w) != 0 {
		t.Fatalf("warnings %q with an allowlist", w)
	}
	if w := (&passbase.Config{}).Warnings(); len(w) != 0 {
		t.Fatalf("warnings %q without Passbase", w)
	}
}

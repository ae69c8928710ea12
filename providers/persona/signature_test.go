package persona

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// The vectors of testdata/persona, made with Python's hmac (README there).
const (
	vectorOld = "wbhsec_vectorOldSecret0123456789abcdef"
	vectorNew = "wbhsec_vectorNewSecret9876543210fedcba"
	vectorT   = 1777885380
)

func vector(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/persona/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// vectorNow is the receiver's clock for the vectors: ten seconds after
// they were signed.
var vectorNow = time.Unix(vectorT+10, 0)

// The header and body made by an independent tool check, under the old
// secret alone, the new one alone, or both; the stale one is genuine but
// an hour old.
func TestVectorsMadeByPythonCheck(t *testing.T) {
	body := []byte(vector(t, "event-approved.json"))
	for _, tc := range []struct {
		name, header string
		secrets      []string
		want         error
	}{
		{"genuine", vector(t, "event-approved.sig"), []string{vectorOld}, nil},
		{"genuine, receiver rotating", vector(t, "event-approved.sig"), []string{vectorNew, vectorOld}, nil},
		{"rotated header, receiver has the old secret", vector(t, "event-approved.rotated.sig"), []string{vectorOld}, nil},
		{"rotated header, receiver has the new secret", vector(t, "event-approved.rotated.sig"), []string{vectorNew}, nil},
		{"genuine header, receiver has only the new secret", vector(t, "event-approved.sig"), []string{vectorNew}, errMismatch},
		{"stale", vector(t, "event-approved.stale.sig"), []string{vectorOld}, errStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(bytesOf(tc.secrets), tc.header, body, vectorNow, 5*time.Minute); !errors.Is(err, tc.want) && err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// Sign is the scheme Python computed.
	if got := Header(time.Unix(vectorT, 0), body, []byte(vectorOld)); got != vector(t, "event-approved.sig") {
		t.Fatalf("Header = %s, want the vector", got)
	}
}

func bytesOf(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// Every way a header can be wrong is refused, each for its reason; the
// receiver answers all of them alike.
func TestSignatureRefusals(t *testing.T) {
	secret := []byte("wbhsec_tableSecret0123456789")
	body := []byte(`{"data":{"type":"event"}}`)
	now := time.Unix(1_800_000_000, 0)
	good := Header(now, body, secret)
	for _, tc := range []struct {
		name   string
		modify func(h string, body []byte) (string, []byte)
		want   error
	}{
		{"genuine", func(h string, b []byte) (string, []byte) { return h, b }, nil},
		{"no header", func(h string, b []byte) (string, []byte) { return "", b }, errNoSignature},
		{"body changed", func(h string, b []byte) (string, []byte) { return h, append([]byte(" "), b...) }, errMismatch},
		{"signature of another secret", func(h string, b []byte) (string, []byte) {
			return Header(now, b, []byte("wbhsec_otherSecret")), b
		}, errMismatch},
		{"t changed, v1 kept", func(h string, b []byte) (string, []byte) {
			return strings.Replace(h, "t=1800000000", "t=1800000001", 1), b
		}, errMismatch},
		{"t with a leading zero (another text, another signature)", func(h string, b []byte) (string, []byte) {
			return strings.Replace(h, "t=", "t=0", 1), b
		}, errMismatch},
		{"v1 in upper case hex (the same digest)", func(h string, b []byte) (string, []byte) {
			i := strings.Index(h, "v1=") + 3
			return h[:i] + strings.ToUpper(h[i:]), b
		}, nil},
		{"T= for t=", func(h string, b []byte) (string, []byte) { return "T" + h[1:], b }, errBadHeader},
		{"v1 truncated", func(h string, b []byte) (string, []byte) { return h[:len(h)-2], b }, errBadHeader},
		{"v1 not hex", func(h string, b []byte) (string, []byte) { return h[:len(h)-1] + "g", b }, errBadHeader},
		{"no t", func(h string, b []byte) (string, []byte) { return h[strings.Index(h, "v1="):], b }, errBadHeader},
		{"t twice", func(h string, b []byte) (string, []byte) { return "t=1," + h, b }, errBadHeader},
		{"t negative", func(h string, b []byte) (string, []byte) { return strings.Replace(h, "t=", "t=-", 1), b }, errBadHeader},
		{"t too long", func(h string, b []byte) (string, []byte) { return strings.Replace(h, "t=", "t=1000", 1), b }, errBadHeader},
		{"no v1", func(h string, b []byte) (string, []byte) { return "t=1800000000", b }, errBadHeader},
		{"a pair without =", func(h string, b []byte) (string, []byte) { return h + ",v1", b }, errBadHeader},
		{"too many sets", func(h string, b []byte) (string, []byte) { return strings.Repeat(h+" ", 5), b }, errBadHeader},
		{"a forged set beside the genuine one", func(h string, b []byte) (string, []byte) {
			return Header(now, b, []byte("wbhsec_forger")) + " " + h, b
		}, nil},
		{"v0 beside v1 is skipped", func(h string, b []byte) (string, []byte) { return strings.Replace(h, ",v1=", ",v0=abc,v1=", 1), b }, nil},
		{"signed 5 minutes ago", func(h string, b []byte) (string, []byte) { return Header(now.Add(-5*time.Minute), b, secret), b }, nil},
		{"signed 5 minutes and 1 second ago", func(h string, b []byte) (string, []byte) {
			return Header(now.Add(-5*time.Minute-time.Second), b, secret), b
		}, errStale},
		{"signed 6 minutes ahead", func(h string, b []byte) (string, []byte) { return Header(now.Add(6*time.Minute), b, secret), b }, errStale},
		{"a stale set beside a forged fresh one", func(h string, b []byte) (string, []byte) {
			return Header(now.Add(-time.Hour), b, secret) + " " + Header(now, b, []byte("wbhsec_forger")), b
		}, errStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, b := tc.modify(good, append([]byte(nil), body...))
			if err := Verify([][]byte{secret}, h, b, now, 5*time.Minute); err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// A tolerance of zero or less checks nothing as fresh: it can never mean
// "no time check".
func TestZeroToleranceAcceptsNothing(t *testing.T) {
	secret := []byte("wbhsec_tableSecret0123456789")
	now := time.Unix(1_800_000_000, 0)
	for _, tol := range []time.Duration{0, -time.Minute} {
		if err := Verify([][]byte{secret}, Header(now, []byte("{}"), secret), []byte("{}"), now, tol); err != errStale {
			t.Errorf("tolerance %s: Verify = %v, want %v", tol, err, errStale)
		}
	}
	if _, err := NewWebhooks([]string{string(secret)}, 0); err == nil {
		t.Error("NewWebhooks took a tolerance of 0")
	}
}

package sumsub

import (
	"os"
	"strings"
	"testing"
)

// The vectors of testdata/sumsub, made with Python's hmac (README there).
const (
	vectorOld = "vectorOldSecret-sumsub-0123456789"
	vectorNew = "vectorNewSecret-sumsub-9876543210"
)

func vector(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/sumsub/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Sumsub's published example checks, with SHA-1 allowed; Sign makes it.
func TestPublishedVector(t *testing.T) {
	const digest = "f6e92ffe371718694d46e28436f76589312df8db"
	if got := Sign(SHA1, []byte("SoMe_SeCrEt_KeY"), []byte("someText")); got != digest || got != vector(t, "published.sha1") {
		t.Fatalf("Sign = %s, want %s", got, digest)
	}
	if err := Verify([][]byte{[]byte("SoMe_SeCrEt_KeY")}, []Alg{SHA1}, "HMAC_SHA1_HEX", digest, []byte("someText")); err != nil {
		t.Fatal(err)
	}
	// Unless SUMSUB_DIGEST_ALGS lists SHA-1, the same digest is refused.
	if err := Verify([][]byte{[]byte("SoMe_SeCrEt_KeY")}, DefaultAlgs, "HMAC_SHA1_HEX", digest, []byte("someText")); err != errAlgNotAllowed {
		t.Fatalf("SHA-1 by default: %v", err)
	}
}

// The digests made by an independent tool check under each algorithm,
// under either secret of a rotation, and only where the algorithm is
// allowed.
func TestVectorsMadeByPythonCheck(t *testing.T) {
	body := []byte(vector(t, "applicant-reviewed-red-retry.json"))
	for _, tc := range []struct {
		name, alg, file string
		secrets         []string
		allowed         []Alg
		want            error
	}{
		{"SHA-256", "HMAC_SHA256_HEX", "sha256", []string{vectorOld}, DefaultAlgs, nil},
		{"SHA-512", "HMAC_SHA512_HEX", "sha512", []string{vectorOld}, DefaultAlgs, nil},
		{"SHA-1 listed", "HMAC_SHA1_HEX", "sha1", []string{vectorOld}, Algs, nil},
		{"SHA-1 not listed", "HMAC_SHA1_HEX", "sha1", []string{vectorOld}, DefaultAlgs, errAlgNotAllowed},
		{"old secret, receiver rotating", "HMAC_SHA256_HEX", "sha256", []string{vectorNew, vectorOld}, DefaultAlgs, nil},
		{"new secret, receiver rotating", "HMAC_SHA256_HEX", "new.sha256", []string{vectorOld, vectorNew}, DefaultAlgs, nil},
		{"new secret, receiver has only the old", "HMAC_SHA256_HEX", "new.sha256", []string{vectorOld}, DefaultAlgs, errMismatch},
		{"SHA-256 digest named SHA-512", "HMAC_SHA512_HEX", "sha256", []string{vectorOld}, DefaultAlgs, errBadDigest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(bytesOf(tc.secrets), tc.allowed, tc.alg, vector(t, "applicant-reviewed-red-retry."+tc.file), body)
			if err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	for alg, file := range map[Alg]string{SHA256: "sha256", SHA512: "sha512", SHA1: "sha1"} {
		if got := Sign(alg, []byte(vectorOld), body); got != vector(t, "applicant-reviewed-red-retry."+file) {
			t.Errorf("Sign(%s) is not the vector", alg)
		}
	}
}

func bytesOf(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// Every way the headers can be wrong is refused, each for its reason; the
// receiver answers all of them alike.
func TestDigestRefusals(t *testing.T) {
	secret := []byte("table-secret-0123456789")
	body := []byte("{\n  \"type\" : \"applicantReviewed\"\n}")
	type hdr struct{ alg, digest string }
	for _, tc := range []struct {
		name   string
		modify func(h hdr, b []byte) (hdr, []byte)
		want   error
	}{
		{"genuine", func(h hdr, b []byte) (hdr, []byte) { return h, b }, nil},
		{"no digest", func(h hdr, b []byte) (hdr, []byte) { return hdr{h.alg, ""}, b }, errNoDigest},
		{"no algorithm", func(h hdr, b []byte) (hdr, []byte) { return hdr{"", h.digest}, b }, errNoAlg},
		{"unknown algorithm", func(h hdr, b []byte) (hdr, []byte) { return hdr{"HMAC_MD5_HEX", h.digest}, b }, errAlgNotAllowed},
		{"algorithm in lower case", func(h hdr, b []byte) (hdr, []byte) { return hdr{strings.ToLower(h.alg), h.digest}, b }, errAlgNotAllowed},
		{"SHA-1, not allowed", func(h hdr, b []byte) (hdr, []byte) { return hdr{"HMAC_SHA1_HEX", Sign(SHA1, secret, b)}, b }, errAlgNotAllowed},
		{"SHA-512", func(h hdr, b []byte) (hdr, []byte) { return hdr{"HMAC_SHA512_HEX", Sign(SHA512, secret, b)}, b }, nil},
		{"body re-encoded compact", func(h hdr, b []byte) (hdr, []byte) { return h, []byte(`{"type":"applicantReviewed"}`) }, errMismatch},
		{"body changed", func(h hdr, b []byte) (hdr, []byte) { return h, append(b, ' ') }, errMismatch},
		{"digest of another secret", func(h hdr, b []byte) (hdr, []byte) { return hdr{h.alg, Sign(SHA256, []byte("other"), b)}, b }, errMismatch},
		{"digest in upper case hex (the same digest)", func(h hdr, b []byte) (hdr, []byte) { return hdr{h.alg, strings.ToUpper(h.digest)}, b }, nil},
		{"digest truncated", func(h hdr, b []byte) (hdr, []byte) { return hdr{h.alg, h.digest[:62]}, b }, errBadDigest},
		{"digest not hex", func(h hdr, b []byte) (hdr, []byte) { return hdr{h.alg, h.digest[:63] + "g"}, b }, errBadDigest},
		{"digest with a prefix", func(h hdr, b []byte) (hdr, []byte) { return hdr{h.alg, "sha256=" + h.digest}, b }, errBadDigest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, b := tc.modify(hdr{"HMAC_SHA256_HEX", Sign(SHA256, secret, body)}, append([]byte(nil), body...))
			if err := Verify([][]byte{secret}, DefaultAlgs, h.alg, h.digest, b); err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// No list of algorithms accepts nothing rather than anything.
	if err := Verify([][]byte{secret}, nil, "HMAC_SHA256_HEX", Sign(SHA256, secret, body), body); err == nil {
		t.Fatal("an empty allowlist accepted a digest")
	}
}

func TestParseAlgs(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []Alg
		err  bool
	}{
		{[]string{"HMAC_SHA256_HEX", "HMAC_SHA512_HEX"}, DefaultAlgs, false},
		{[]string{" HMAC_SHA1_HEX", "HMAC_SHA1_HEX"}, []Alg{SHA1}, false},
		{nil, nil, true},
		{[]string{""}, nil, true},
		{[]string{"HMAC_SHA256_HEX", "sha256"}, nil, true},
	} {
		got, err := ParseAlgs(tc.in)
		if (err != nil) != tc.err || strings.Join(algStrings(got), ",") != strings.Join(algStrings(tc.want), ",") {
			t.Errorf("ParseAlgs(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "SUMSUB_DIGEST_ALGS") {
			t.Errorf("message %v does not name the variable", err)
		}
	}
}

func algStrings(as []Alg) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a)
	}
	return out
}

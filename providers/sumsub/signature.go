package sumsub

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Sumsub's legacy digest; accepted only when SUMSUB_DIGEST_ALGS lists it
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
)

// Sumsub signs a webhook with two headers: X-Payload-Digest, the hex HMAC
// of the raw body under the webhook's secret key, and X-Payload-Digest-Alg,
// which names the HMAC's hash. There is no timestamp: a digest says the
// body came from someone holding the secret, nothing about when.

// The headers Sumsub signs its webhooks in.
const (
	DigestHeader    = "X-Payload-Digest"
	DigestAlgHeader = "X-Payload-Digest-Alg"
)

// Alg is a digest algorithm as X-Payload-Digest-Alg names it.
type Alg string

// Sumsub's digest algorithms. SHA-256 is Sumsub's default, SHA-512 the
// other choice its webhook manager offers; SHA-1 is legacy, accepted only
// when SUMSUB_DIGEST_ALGS names it.
const (
	SHA1   Alg = "HMAC_SHA1_HEX"
	SHA256 Alg = "HMAC_SHA256_HEX"
	SHA512 Alg = "HMAC_SHA512_HEX"
)

// Algs are the algorithms Sumsub knows, and DefaultAlgs those accepted
// unless SUMSUB_DIGEST_ALGS says otherwise.
var (
	Algs        = []Alg{SHA256, SHA512, SHA1}
	DefaultAlgs = []Alg{SHA256, SHA512}
)

func (a Alg) hash() func() hash.Hash {
	switch a {
	case SHA1:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	return nil
}

// ParseAlgs reads SUMSUB_DIGEST_ALGS's entries; an unknown name or an
// empty list is an error (an empty list would refuse every webhook).
func ParseAlgs(names []string) ([]Alg, error) {
	var out []Alg
	for _, n := range names {
		a := Alg(strings.TrimSpace(n))
		if a.hash() == nil {
			return nil, fmt.Errorf("SUMSUB_DIGEST_ALGS names an unknown algorithm: want some of %s, %s, %s", SHA256, SHA512, SHA1)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("SUMSUB_DIGEST_ALGS is empty: name at least one of HMAC_SHA256_HEX, HMAC_SHA512_HEX")
	}
	return out, nil
}

// Sign is X-Payload-Digest of body under secret with alg: lowercase hex.
// It panics on an algorithm that is not one of Algs, which only a bug can
// pass (Verify checks the header's name against the allowlist first).
func Sign(alg Alg, secret, body []byte) string {
	h := alg.hash()
	if h == nil {
		panic("sumsub: Sign with unknown algorithm " + string(alg))
	}
	m := hmac.New(h, secret)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Why a digest did not check. The receiver answers all alike (401).
var (
	errNoDigest      = errors.New("no X-Payload-Digest header")
	errNoAlg         = errors.New("no X-Payload-Digest-Alg header")
	errAlgNotAllowed = errors.New("X-Payload-Digest-Alg is not one of SUMSUB_DIGEST_ALGS")
	errBadDigest     = errors.New("X-Payload-Digest is not the hex digest its algorithm makes")
	errMismatch      = errors.New("X-Payload-Digest does not match the body under any of SUMSUB_WEBHOOK_SECRETS")
)

// Verify checks digest (X-Payload-Digest) of body made with the algorithm
// algName names (X-Payload-Digest-Alg), which must be one of allowed,
// under any of secrets. Every secret is compared, in constant time each,
// whatever matched before: the time taken tells nothing of which checked.
// The header's name is matched exactly, so a missing or unknown one is
// refused, never read as a default.
func Verify(secrets [][]byte, allowed []Alg, algName, digest string, body []byte) error {
	switch {
	case digest == "":
		return errNoDigest
	case algName == "":
		return errNoAlg
	}
	alg := Alg(algName)
	if !slices.Contains(allowed, alg) || alg.hash() == nil {
		return errAlgNotAllowed
	}
	got, err := hex.DecodeString(digest)
	if err != nil || len(got) != alg.hash()().Size() {
		return errBadDigest
	}
	match := false
	for _, s := range secrets {
		want, _ := hex.DecodeString(Sign(alg, s, body))
		match = hmac.Equal(want, got) || match
	}
	if !match {
		return errMismatch
	}
	return nil
}

package persona

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Persona's Persona-Signature header: one or more space-separated sets of
// "t=<unix seconds>,v1=<hex>", where v1 is the lowercase hex HMAC-SHA256 of
// "<t>.<raw body>" under the webhook secret. While a secret rotates, Persona
// sends one set per secret; any one that checks is enough.

// SignatureHeader is the header Persona signs its webhooks in.
const SignatureHeader = "Persona-Signature"

// Bounds on what a header may make the receiver compute: a rotation has two
// sets, so four is generous, and each set is a few dozen bytes.
const (
	maxHeaderBytes = 1024
	maxSets        = 4
)

// Sign is v1 of body sent at t (the header's own text of the time, as it
// is signed) under secret.
func Sign(secret []byte, t string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Header is the Persona-Signature of body sent at at: one set per secret,
// in the order given (Persona's own while it rotates a secret).
func Header(at time.Time, body []byte, secrets ...[]byte) string {
	t := strconv.FormatInt(at.Unix(), 10)
	sets := make([]string, len(secrets))
	for i, s := range secrets {
		sets[i] = "t=" + t + ",v1=" + Sign(s, t, body)
	}
	return strings.Join(sets, " ")
}

// Why a signature did not check. The receiver answers both alike (401);
// errStale is told apart so that it is counted apart.
var (
	errNoSignature = errors.New("no Persona-Signature header")
	errBadHeader   = errors.New("Persona-Signature is not sets of t=<unix seconds>,v1=<64 hex digits>")
	errMismatch    = errors.New("no v1 in Persona-Signature matches the body under any of PERSONA_WEBHOOK_SECRETS")
	errStale       = errors.New("Persona-Signature is genuine but its t is outside PERSONA_SIGNATURE_TOLERANCE of the receiver's clock")
)

// set is one t=…,v1=… set of a header.
type set struct {
	t   string // as sent: the signature covers this text
	at  time.Time
	v1s [][]byte // decoded
}

// parseHeader reads the sets of a Persona-Signature header. A set lists t
// once and v1 at least once, in any order; other keys (a v0 or a later
// scheme) are skipped, as Stripe's scheme allows.
func parseHeader(h string) ([]set, error) {
	if h == "" {
		return nil, errNoSignature
	}
	fields := strings.Fields(h)
	if len(h) > maxHeaderBytes || len(fields) > maxSets {
		return nil, errBadHeader
	}
	out := make([]set, 0, len(fields))
	for _, f := range fields {
		var s set
		for _, pair := range strings.Split(f, ",") {
			k, v, ok := strings.Cut(pair, "=")
			if !ok {
				return nil, errBadHeader
			}
			switch k {
			case "t":
				if s.t != "" || !unixSeconds(v) {
					return nil, errBadHeader
				}
				n, _ := strconv.ParseInt(v, 10, 64)
				s.t, s.at = v, time.Unix(n, 0)
			case "v1":
				b, err := hex.DecodeString(v)
				if err != nil || len(b) != sha256.Size {
					return nil, errBadHeader
				}
				s.v1s = append(s.v1s, b)
			}
		}
		if s.t == "" || len(s.v1s) == 0 {
			return nil, errBadHeader
		}
		out = append(out, s)
	}
	return out, nil
}

// unixSeconds reports whether v is 1 to 12 decimal digits: Unix seconds
// until the year 33658, and nothing that overflows.
func unixSeconds(v string) bool {
	if len(v) == 0 || len(v) > 12 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// Verify checks header against body under secrets at now: some set must
// carry a v1 that Sign makes of its t and body under one of the secrets,
// with t within tolerance of now (either side). Every v1 of every set is
// compared with every secret's, in constant time each, whatever matched
// before: the time taken tells nothing of which secret or set checked.
// A genuine signature outside the tolerance is errStale; tolerance must
// be positive (the configuration refuses anything else), and a zero or
// negative one checks nothing as fresh rather than everything.
func Verify(secrets [][]byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	sets, err := parseHeader(header)
	if err != nil {
		return err
	}
	genuine, fresh := false, false
	for _, s := range sets {
		match := false
		for _, secret := range secrets {
			want, _ := hex.DecodeString(Sign(secret, s.t, body))
			for _, v1 := range s.v1s {
				match = hmac.Equal(want, v1) || match
			}
		}
		age := now.Sub(s.at).Abs()
		genuine = genuine || match
		fresh = fresh || (match && tolerance > 0 && age <= tolerance)
	}
	switch {
	case fresh:
		return nil
	case genuine:
		return errStale
	}
	return errMismatch
}

package onfido

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// Onfido signs a webhook with X-SHA2-Signature: the hex HMAC-SHA256 of the
// raw body under the webhook's token. There is no timestamp.

// SignatureHeader is the header Onfido signs its webhooks in.
const SignatureHeader = "X-SHA2-Signature"

// Sign is X-SHA2-Signature of body under token: lowercase hex.
func Sign(token, body []byte) string {
	m := hmac.New(sha256.New, token)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Why a signature did not check. The receiver answers all alike (401).
var (
	errNoSignature = errors.New("no X-SHA2-Signature header")
	errBadHeader   = errors.New("X-SHA2-Signature is not 64 hex digits")
	errMismatch    = errors.New("X-SHA2-Signature does not match the body under any of ONFIDO_WEBHOOK_TOKENS")
)

// Verify checks signature over body under any of tokens, each compared in
// constant time whatever matched before.
func Verify(tokens [][]byte, signature string, body []byte) error {
	if signature == "" {
		return errNoSignature
	}
	got, err := hex.DecodeString(signature)
	if err != nil || len(got) != sha256.Size {
		return errBadHeader
	}
	match := false
	for _, t := range tokens {
		want, _ := hex.DecodeString(Sign(t, body))
		match = hmac.Equal(want, got) || match
	}
	if !match {
		return errMismatch
	}
	return nil
}

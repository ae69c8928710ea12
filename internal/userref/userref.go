// Package userref says how a user id appears in Temporal's visibility (the
// IdvUserId search attribute), which the payload codec does not encrypt:
// as it is ("plain", the default, readable in the Web UI's filter), or as a
// keyed hash ("hmac": HMAC-SHA256 of the id under IDV_USER_ID_KEY, so an
// app whose user ids are emails or other personal data keeps them out of
// Temporal). The receiver and the worker must be set the same way.
package userref

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/idvflow/idvflow/internal/secrets"
)

// Config is read from the environment by the receiver and the worker.
type Config struct {
	Mode string `env:"IDV_USER_ID_ATTRIBUTE, default=plain"`
	Key  string `env:"IDV_USER_ID_KEY"`
}

// Validate names what cannot work; it never quotes the key.
func (c Config) Validate() []error {
	switch c.Mode {
	case "plain":
		if c.Key != "" {
			return []error{errors.New("IDV_USER_ID_KEY is set but IDV_USER_ID_ATTRIBUTE is plain: set it to hmac, or unset the key")}
		}
	case "hmac":
		if err := secrets.Check("IDV_USER_ID_KEY", c.Key, 32); err != nil {
			return []error{fmt.Errorf("IDV_USER_ID_ATTRIBUTE=hmac needs a random IDV_USER_ID_KEY: %w", err)}
		}
	default:
		return []error{errors.New(`IDV_USER_ID_ATTRIBUTE must be "plain" or "hmac"`)}
	}
	return nil
}

// Ref is how user ids appear in visibility; the zero Ref is plain.
type Ref struct{ key []byte }

// New returns c's Ref (c is valid).
func (c Config) New() Ref {
	if c.Mode != "hmac" {
		return Ref{}
	}
	return Ref{key: []byte(c.Key)}
}

// Mode is the IDV_USER_ID_ATTRIBUTE r stands for: "plain" or "hmac".
func (r Ref) Mode() string {
	if r.key == nil {
		return "plain"
	}
	return "hmac"
}

// Of is the search attribute value of userID: "" in plain mode (the id
// itself is shown), else "h1:" and 32 hex digits of its keyed hash.
func (r Ref) Of(userID string) string {
	if r.key == nil || userID == "" {
		return ""
	}
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(userID))
	return "h1:" + hex.EncodeToString(m.Sum(nil)[:16])
}

// Value is what IdvUserId holds for userID, in either mode.
func (r Ref) Value(userID string) string {
	if v := r.Of(userID); v != "" {
		return v
	}
	return userID
}

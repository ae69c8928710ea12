// Package secrets refuses, at start, secrets that cannot be real: the
// placeholders of deploy/env.example and of documentation, values too short
// to resist guessing, and keys with too few distinct bytes to be random (an
// all-zero key). Every message names the variable, never the value.
package secrets

import (
	"fmt"
	"strings"
)

// placeholders are words that only stand in for a secret.
var placeholders = []string{"your-", "change-me", "changeme", "replace-me", "placeholder", "example", "<", "xxxx"}

// published are secrets printed in public documentation, which anyone can
// sign with: the Standard Webhooks specification's example secret.
var published = []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}

// Check reports why value, from variable name, cannot be a secret: it is
// a placeholder, shorter than min bytes, or has fewer than 6 distinct
// characters.
func Check(name, value string, min int) error {
	if Placeholder(value) {
		return fmt.Errorf("%s is a placeholder: set the real secret", name)
	}
	if len(value) < min {
		return fmt.Errorf("%s is shorter than %d bytes: use a random secret", name, min)
	}
	if distinct([]byte(value)) < 6 {
		return fmt.Errorf("%s has too few distinct characters to be random", name)
	}
	return nil
}

// Placeholder reports whether value is a placeholder, not a real value, or
// a secret published in documentation.
func Placeholder(value string) bool {
	for _, p := range published {
		if value == p {
			return true
		}
	}
	v := strings.ToLower(value)
	for _, p := range placeholders {
		if strings.Contains(v, p) {
			return true
		}
	}
	return false
}

// CheckKey reports why key, from variable name, cannot be a random key:
// fewer than 8 distinct bytes (32 random bytes have about 30).
func CheckKey(name string, key []byte) error {
	if distinct(key) < 8 {
		return fmt.Errorf("%s holds a key that is not random (all zero, or nearly): make one with openssl rand -base64 32", name)
	}
	return nil
}

func distinct(b []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range b {
		if !seen[c] {
			seen[c], n = true, n+1
		}
	}
	return n
}

package secrets_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/idvflow/idvflow/internal/secrets"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"env.example's Veriff secret", "your-veriff-shared-secret", false},
		{"env.example's admin token", "change-me-long-random", false},
		{"too short", "s3cr3t-v4lue", false},
		{"one character repeated", strings.Repeat("a", 40), false},
		{"a UUID", "abcdef12-abcd-abcd-abcd-abcdef012345", true},
		{"random base64", "q8Zl1n6yVfW3tK0pR2xJmC9s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := secrets.Check("VAR", tc.value, 16)
			if (err == nil) != tc.ok {
				t.Fatalf("Check: %v, want ok %v", err, tc.ok)
			}
			if err != nil && (strings.Contains(err.Error(), tc.value) || !strings.Contains(err.Error(), "VAR")) {
				t.Fatalf("message %q must name VAR and never quote the value", err)
			}
		})
	}
}

func TestCheckKey(t *testing.T) {
	zero, _ := base64.StdEncoding.DecodeString("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if err := secrets.CheckKey("IDV_PAYLOAD_KEYS", zero); err == nil {
		t.Fatal("an all-zero key passed")
	}
	random, _ := base64.StdEncoding.DecodeString("3q2+7wARIjNEVWZ3iJmqu8zd7v8AESIzRFVmd4iZqrs=")
	if err := secrets.CheckKey("IDV_PAYLOAD_KEYS", random); err != nil {
		t.Fatal(err)
	}
}

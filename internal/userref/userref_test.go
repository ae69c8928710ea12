package userref_test

import (
	"strings"
	"testing"

	"github.com/idvflow/idvflow/internal/userref"
)

func TestRef(t *testing.T) {
	plain := userref.Config{Mode: "plain"}
	if errs := plain.Validate(); len(errs) != 0 {
		t.Fatal(errs)
	}
	if v := plain.New().Value("ann@example.com"); v != "ann@example.com" {
		t.Fatalf("plain: %q", v)
	}
	h := userref.Config{Mode: "hmac", Key: "k9Jq2LmZ0xVb7RtYc4WnE1sPaHuD6fGo"}
	if errs := h.Validate(); len(errs) != 0 {
		t.Fatal(errs)
	}
	r := h.New()
	v := r.Value("ann@example.com")
	if !strings.HasPrefix(v, "h1:") || len(v) != 35 || strings.Contains(v, "ann") || r.Value("ann@example.com") != v || r.Value("bob") == v {
		t.Fatalf("hmac value %q", v)
	}
	other := userref.Config{Mode: "hmac", Key: "Zq8wX2cV5bN7mL1kJ4hG6fD9sA3pO0iU"}.New()
	if other.Value("ann@example.com") == v {
		t.Fatal("another key gave the same value")
	}
	for _, bad := range []userref.Config{
		{Mode: "hmac"}, {Mode: "hmac", Key: "short"}, {Mode: "plain", Key: "k9Jq2LmZ0xVb7RtYc4WnE1sPaHuD6fGo"}, {Mode: "sha1"},
	} {
		if errs := bad.Validate(); len(errs) == 0 {
			t.Errorf("%+v accepted", bad.Mode)
		}
	}
}

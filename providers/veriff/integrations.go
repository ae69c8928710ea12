// Package veriff is everything idvflow knows of Veriff: its signature
// (Sign, Verify), its integrations (Veriff's name for an API key and its
// shared secrets) and their configuration, its webhooks (Webhooks), its
// station API (Client, API), its rules for the workflow, its emulated API
// and the webhooks of a scenario. The rest of idvflow reaches it through
// providers.Provider.
package veriff

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/internal/secrets"
)

// Sign is Veriff's X-HMAC-SIGNATURE of payload under secret: lowercase hex
// of HMAC-SHA256. Webhooks sign their body, API requests the session id.
func Sign(secret, payload []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(payload)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig (hex) is payload's signature under one of
// secrets, in constant time for each secret.
func Verify(secrets [][]byte, payload []byte, sig string) bool {
	ok := false
	for _, s := range secrets {
		ok = hmac.Equal([]byte(Sign(s, payload)), []byte(strings.ToLower(sig))) || ok
	}
	return ok
}

// DefaultIntegration names the integration of VERIFF_API_KEY and
// VERIFF_SHARED_SECRETS.
const DefaultIntegration = "default"

// Integration is one Veriff integration: the API key Veriff sends in
// X-AUTH-CLIENT (and idvflow sends when it calls the API), and its shared
// secrets, the first current (more than one while a secret is rotated).
type Integration struct {
	Name          string   `json:"name"`
	APIKey        string   `env:"API_KEY" json:"-"`
	SharedSecrets []string `env:"SHARED_SECRETS" json:"-"`
}

// Vars names the integration's two variables, for messages.
func (i Integration) Vars() (apiKey, secrets string) {
	if i.Name == DefaultIntegration || i.Name == "" {
		return "VERIFF_API_KEY", "VERIFF_SHARED_SECRETS"
	}
	p := "VERIFF_" + strings.ToUpper(i.Name) + "_"
	return p + "API_KEY", p + "SHARED_SECRETS"
}

// Verifies reports whether sig signs payload under one of the
// integration's secrets (Verify).
func (i Integration) Verifies(payload []byte, sig string) bool {
	secrets := make([][]byte, len(i.SharedSecrets))
	for k, s := range i.SharedSecrets {
		secrets[k] = []byte(s)
	}
	return Verify(secrets, payload, sig)
}

// Configured reports whether the integration has credentials.
func (i Integration) Configured() bool { return i.APIKey != "" && len(i.SharedSecrets) > 0 }

// Config is the Veriff part of a binary's environment: one integration in
// VERIFF_API_KEY and VERIFF_SHARED_SECRETS, and any number more named in
// VERIFF_INTEGRATIONS, each in VERIFF_<NAME>_API_KEY and
// VERIFF_<NAME>_SHARED_SECRETS.
type Config struct {
	APIKey        string   `env:"VERIFF_API_KEY"`
	SharedSecrets []string `env:"VERIFF_SHARED_SECRETS"`
	Names         []string `env:"VERIFF_INTEGRATIONS"`

	// BaseURL is the station API the worker polls.
	BaseURL string `env:"VERIFF_BASE_URL, default=https://stationapi.veriff.com"`
	// Allowed is the receiver's optional source allowlist (CIDRs).
	Allowed []string `env:"VERIFF_ALLOWED_CIDRS"`
	// AwaitSubmitted makes a decision wait (up to IDV_PROCESSED_GRACE) for
	// the 7002 "submitted" event. Off by default: Veriff's event webhook is
	// optional and many integrations never get it.
	AwaitSubmitted bool `env:"IDV_VERIFF_AWAIT_SUBMITTED, default=false"`

	named []Integration
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Expand implements envconf.Expander: it reads the named integrations'
// variables.
func (c *Config) Expand(ctx context.Context, lookup envconfig.Lookuper) []error {
	var errs []error
	c.named = nil
	for _, name := range c.Names {
		name = strings.TrimSpace(name)
		if !namePattern.MatchString(name) || name == DefaultIntegration {
			errs = append(errs, fmt.Errorf("VERIFF_INTEGRATIONS: %q is not an integration name (lowercase letters, digits and _, not %q)", name, DefaultIntegration))
			continue
		}
		in := Integration{Name: name}
		prefix := "VERIFF_" + strings.ToUpper(name) + "_"
		if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &in, Lookuper: envconfig.PrefixLookuper(prefix, lookup)}); err != nil {
			errs = append(errs, fmt.Errorf("%s*: %w", prefix, err))
			continue
		}
		c.named = append(c.named, in)
	}
	return errs
}

// Integrations lists the configured integrations, the default one first.
func (c *Config) Integrations() []Integration {
	var out []Integration
	if c.APIKey != "" || len(c.SharedSecrets) > 0 {
		out = append(out, Integration{Name: DefaultIntegration, APIKey: c.APIKey, SharedSecrets: c.SharedSecrets})
	}
	return append(out, c.named...)
}

// Validate checks that each integration has both its key and its secrets,
// and that no two share an API key (the key is how a webhook's integration
// is found). It names variables, never their values.
func (c *Config) Validate() []error {
	var errs []error
	seen := map[string]string{}
	for _, in := range c.Integrations() {
		if !in.Configured() {
			key, secrets := in.Vars()
			errs = append(errs, fmt.Errorf("%s and %s go together: set both or neither", key, secrets))
			continue
		}
		if other, dup := seen[in.APIKey]; dup {
			errs = append(errs, fmt.Errorf("the Veriff integrations %q and %q have the same API key", other, in.Name))
		}
		seen[in.APIKey] = in.Name
		key, secretsVar := in.Vars()
		if secrets.Placeholder(in.APIKey) {
			errs = append(errs, fmt.Errorf("%s is a placeholder: set the integration's API key", key))
		}
		for _, s := range in.SharedSecrets {
			// Veriff's shared secrets are UUIDs: anything shorter is not one.
			if err := secrets.Check(secretsVar, s, 16); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// Find returns the integration whose API key is key. It compares key with
// every integration's, in constant time, so the answer's timing tells
// nothing about which keys exist.
func Find(integrations []Integration, key string) (Integration, bool) {
	var found Integration
	ok := false
	for _, in := range integrations {
		if hmac.Equal([]byte(key), []byte(in.APIKey)) && in.APIKey != "" {
			found, ok = in, true
		}
	}
	return found, ok
}

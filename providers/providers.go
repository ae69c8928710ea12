// Package providers is what idvflow's provider-neutral parts (the
// receiver, the worker, the activities and the workflow) know of an
// identity-verification provider. Each provider is one package beside this
// one (providers/veriff, providers/passbase) that implements Provider, and
// one line in providers/registry.
package providers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Provider is one provider package's entry in the registry.
type Provider interface {
	// Name is the provider's name in webhook routes (/webhooks/<name>),
	// workflow ids, metrics and the user record.
	Name() string
	// NewConfig returns an empty configuration for Load to fill.
	NewConfig() Config
	// DevEnv is the provider's variables in a local stack whose emulator
	// serves at emulatorURL: public dev credentials, and the API's base URL
	// at the emulator.
	DevEnv(emulatorURL string) map[string]string
	// Parse maps an authentic body (decrypted, for an encrypted provider)
	// to the workflow's event as the receiver's parser does, without
	// credentials: how a quarantined webhook is re-driven after a fix.
	Parse(body []byte) (workflows.Event, error)
}

// Config is one provider's part of a binary's environment (its variables
// in `env` tags; envconf.Expander for variables named by other variables)
// and what the binaries build from it.
type Config interface {
	// Validate checks the variables; it names them, never their values.
	Validate() []error
	// Webhooks authenticates and parses the provider's webhooks; nil when
	// no webhook secret is set (the receiver then does not mount its route).
	Webhooks() (webhook.Provider, error)
	// AllowedCIDRs names the provider's source allowlist variable and
	// returns its entries (none: any source).
	AllowedCIDRs() (variable string, cidrs []string)
	// API calls the provider's API; without credentials it answers
	// activities.NotConfigured (a worker that has them takes the call).
	API(hc *retryablehttp.Client) activities.ProviderAPI
	// HasAPI reports whether the API has credentials.
	HasAPI() bool
	// Rules are what the workflow needs to know of the provider.
	Rules() workflows.Rules
	// WebhookVars and APIVars name the variables that configure the
	// provider's webhooks and its API, for messages.
	WebhookVars() string
	APIVars() string

	// The development tools' side; the product never calls these.

	// Seal makes body a webhook as the provider sends it, authenticated
	// with the configuration's first webhook credentials: the headers and
	// the body to post to /webhooks/<name>.
	Seal(body []byte) (http.Header, []byte, error)
	// Emulate mounts the provider's API on the emulator, accepting the
	// configuration's API credentials and answering with the objects
	// stored there under the provider's name.
	Emulate(e *emulator.Emulator)
}

// Warner is implemented by a provider configuration that can work but is
// weaker than it should be in production: the receiver logs each warning
// at start (naming variables, never values).
type Warner interface {
	Warnings() []string
}

// Warnings are the warnings of every provider configuration that has any.
func (c Configs) Warnings() []string {
	var out []string
	for _, name := range c.names {
		if w, ok := c.byName[name].(Warner); ok {
			out = append(out, w.Warnings()...)
		}
	}
	return out
}

// Registry lists the providers a binary serves.
type Registry []Provider

// Get returns the provider named name.
func (reg Registry) Get(name string) (Provider, bool) {
	for _, p := range reg {
		if p.Name() == name {
			return p, true
		}
	}
	return nil, false
}

// Configs holds each registered provider's configuration, by name, in the
// registry's order.
type Configs struct {
	names  []string
	byName map[string]Config
}

// Load reads every registered provider's variables from lookup. Like
// envconf.Load it reports every bad variable, not only the first.
func Load(ctx context.Context, reg Registry, lookup envconfig.Lookuper) (Configs, []error) {
	cs := Configs{byName: map[string]Config{}}
	var errs []error
	for _, p := range reg {
		c := p.NewConfig()
		errs = append(errs, envconf.Fill(ctx, c, lookup)...)
		if e, ok := c.(envconf.Expander); ok {
			errs = append(errs, e.Expand(ctx, lookup)...)
		}
		cs.names = append(cs.names, p.Name())
		cs.byName[p.Name()] = c
	}
	return cs, errs
}

// Names lists the providers in the registry's order.
func (cs Configs) Names() []string { return cs.names }

// Get returns the named provider's configuration.
func (cs Configs) Get(name string) Config { return cs.byName[name] }

// Validate validates every provider's configuration.
func (cs Configs) Validate() []error {
	var errs []error
	for _, n := range cs.names {
		errs = append(errs, cs.byName[n].Validate()...)
	}
	return errs
}

// Webhooks returns the webhook side of every provider that has secrets,
// and an error naming each provider's variables when none has.
func (cs Configs) Webhooks() ([]webhook.Provider, error) {
	var out []webhook.Provider
	var errs []error
	var vars []string
	for _, n := range cs.names {
		w, err := cs.byName[n].Webhooks()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if w != nil {
			out = append(out, w)
		}
		vars = append(vars, cs.byName[n].WebhookVars())
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no provider configured: set %s", strings.Join(vars, ", or ")))
	}
	return out, errors.Join(errs...)
}

// APIs returns every provider's API by name. An API without credentials
// answers activities.NotConfigured.
func (cs Configs) APIs(hc *retryablehttp.Client) map[string]activities.ProviderAPI {
	apis := map[string]activities.ProviderAPI{}
	for _, n := range cs.names {
		apis[n] = cs.byName[n].API(hc)
	}
	return apis
}

// WithoutAPI names the providers whose API has no credentials.
func (cs Configs) WithoutAPI() []string {
	var out []string
	for _, n := range cs.names {
		if !cs.byName[n].HasAPI() {
			out = append(out, n)
		}
	}
	return out
}

// Rules returns every provider's workflow rules, by name.
func (cs Configs) Rules() map[string]workflows.Rules {
	out := map[string]workflows.Rules{}
	for _, n := range cs.names {
		out[n] = cs.byName[n].Rules()
	}
	return out
}

// Emulate mounts every provider's emulated API on e.
func (cs Configs) Emulate(e *emulator.Emulator) {
	for _, n := range cs.names {
		cs.byName[n].Emulate(e)
	}
}

// DevEnv is every provider's DevEnv in one map.
func (reg Registry) DevEnv(emulatorURL string) map[string]string {
	out := map[string]string{}
	for _, p := range reg {
		maps.Copy(out, p.DevEnv(emulatorURL))
	}
	return out
}

// Package registry lists the providers idvflow serves. Adding a provider is
// its package under providers/ and one line here.
package registry

import (
	"context"

	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/providers/onfido"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/persona"
	"github.com/idvflow/idvflow/providers/sumsub"
	"github.com/idvflow/idvflow/providers/veriff"
)

// All is every provider, in the order messages list them.
func All() providers.Registry {
	return providers.Registry{
		veriff.Provider{},
		passbase.Provider{},
		persona.Provider{},
		sumsub.Provider{},
		onfido.Provider{},
	}
}

// Load reads every provider's configuration from lookup.
func Load(ctx context.Context, lookup envconfig.Lookuper) (providers.Configs, error) {
	cs, errs := providers.Load(ctx, All(), lookup)
	if errs = append(errs, cs.Validate()...); len(errs) > 0 {
		return cs, &envconf.Error{Errs: errs}
	}
	return cs, nil
}

// Dev reads every provider's configuration from lookup over the dev
// defaults (each provider's DevEnv, its API at emulatorURL): what a tool
// talking to a dev stack uses, with whatever the environment overrides.
func Dev(ctx context.Context, lookup envconfig.Lookuper, emulatorURL string) (providers.Configs, error) {
	return Load(ctx, envconfig.MultiLookuper(lookup, envconfig.MapLookuper(All().DevEnv(emulatorURL))))
}

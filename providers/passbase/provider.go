// Package passbase is everything idvflow knows of Passbase: its webhooks'
// encryption (Encrypt, Webhooks), its Verification API v2 (Client, API), its
// rules for the workflow, its configuration, its emulated API and the
// webhooks of a scenario. The rest of idvflow reaches it through
// providers.Provider.
package passbase

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/internal/secrets"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Name is Passbase's name in routes, workflow ids, metrics and the record.
const Name = "passbase"

// Provider is Passbase's entry in the provider registry.
type Provider struct{}

// Name implements providers.Provider.
func (Provider) Name() string { return Name }

// NewConfig implements providers.Provider.
func (Provider) NewConfig() providers.Config { return &Config{} }

// Parse implements providers.Provider: parsing needs no credentials.
func (Provider) Parse(body []byte) (workflows.Event, error) { return (&Webhooks{}).Parse(body) }

// Config is the Passbase part of a binary's environment. One API key: a
// Passbase project has one, and several webhook secrets are accepted (a
// rotation, or several projects' webhooks to one receiver).
type Config struct {
	WebhookSecrets   []string `env:"PASSBASE_WEBHOOK_SECRETS"`
	AllowUnencrypted bool     `env:"PASSBASE_ALLOW_UNENCRYPTED, default=false"`
	Allowed          []string `env:"PASSBASE_ALLOWED_CIDRS"`
	BaseURL          string   `env:"PASSBASE_BASE_URL, default=https://api.passbase.com/verification/v2"`
	APIKey           string   `env:"PASSBASE_API_KEY"`
}

// Validate implements providers.Config. It refuses plain bodies wherever
// they would weaken authentication (docs/semantics.md R9): next to webhook
// secrets (anyone could skip decryption by sending application/json), or
// without a source allowlist that excludes the internet (the network is
// then all that authenticates a Passbase webhook).
func (c *Config) Validate() []error {
	var errs []error
	for _, s := range c.WebhookSecrets {
		if err := secrets.Check("PASSBASE_WEBHOOK_SECRETS", s, 32); err != nil {
			errs = append(errs, err)
		}
	}
	if secrets.Placeholder(c.APIKey) {
		errs = append(errs, errors.New("PASSBASE_API_KEY is a placeholder: set the project's secret API key"))
	}
	if !c.AllowUnencrypted {
		return errs
	}
	if len(c.WebhookSecrets) > 0 {
		errs = append(errs, errors.New("PASSBASE_ALLOW_UNENCRYPTED=true cannot go with PASSBASE_WEBHOOK_SECRETS: "+
			"anyone could skip decryption by sending application/json; unset one"))
	}
	if len(c.Allowed) == 0 {
		errs = append(errs, errors.New("PASSBASE_ALLOW_UNENCRYPTED=true needs PASSBASE_ALLOWED_CIDRS: "+
			"without encryption, the source network is the only proof a webhook comes from Passbase"))
	}
	for _, s := range c.Allowed {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil && p.Bits() == 0 {
			errs = append(errs, fmt.Errorf("PASSBASE_ALLOW_UNENCRYPTED=true with PASSBASE_ALLOWED_CIDRS %q admits every address", s))
		}
	}
	return errs
}

// Warnings implements providers.Warner: Passbase bodies carry no MAC
// (AES-CBC only, by Passbase's design), so without a source allowlist a
// leaked webhook secret is all it takes to forge one.
func (c *Config) Warnings() []string {
	if len(c.WebhookSecrets) > 0 && len(c.Allowed) == 0 {
		return []string{"PASSBASE_ALLOWED_CIDRS is unset: Passbase webhook bodies are encrypted but carry no MAC, " +
			"so in production restrict them to Passbase's source addresses"}
	}
	return nil
}

// Webhooks implements providers.Config.
func (c *Config) Webhooks() (webhook.Provider, error) {
	if len(c.WebhookSecrets) == 0 && !c.AllowUnencrypted {
		return nil, nil
	}
	return NewWebhooks(c.WebhookSecrets, c.AllowUnencrypted)
}

// AllowedCIDRs implements providers.Config.
func (c *Config) AllowedCIDRs() (string, []string) { return "PASSBASE_ALLOWED_CIDRS", c.Allowed }

// WebhookVars implements providers.Config.
func (c *Config) WebhookVars() string { return "PASSBASE_WEBHOOK_SECRETS" }

// APIVars implements providers.Config.
func (c *Config) APIVars() string { return "PASSBASE_API_KEY" }

// Rules implements providers.Config: a decision waits for the processed
// event, and the app's user id is only in the identity, read by API; the
// identity key stands in for it until then.
func (c *Config) Rules() workflows.Rules {
	return workflows.Rules{AwaitsProcessed: true, FetchesDetails: true, FallbackUserIDSource: "identity_key",
		UserIDSources: userIDSources}
}

// API implements providers.Config.
func (c *Config) API(hc *retryablehttp.Client) activities.ProviderAPI {
	if !c.HasAPI() {
		return &API{}
	}
	return &API{client: NewClient(c.BaseURL, c.APIKey, hc)}
}

// HasAPI implements providers.Config.
func (c *Config) HasAPI() bool { return c.APIKey != "" }

// API is Passbase's Verification API as the activities call it.
type API struct {
	client *Client // nil without PASSBASE_API_KEY
}

func (a *API) identity(ctx context.Context, ref activities.SessionRef) (Identity, error) {
	if a.client == nil {
		return Identity{}, activities.NotConfigured(Name, "PASSBASE_API_KEY")
	}
	return a.client.GetIdentity(ctx, ref.SessionID)
}

// Poll implements activities.ProviderAPI: the identity's status, if it is
// a decision.
func (a *API) Poll(ctx context.Context, ref activities.SessionRef) (activities.PollResult, error) {
	ident, err := a.identity(ctx, ref)
	if err != nil || !ident.Decided() {
		return activities.PollResult{}, err
	}
	r := activities.PollResult{Found: true, ProviderStatus: ident.Status, DecidedAt: ident.UpdatedAt()}
	r.UserID, r.UserIDSource = ident.UserID()
	return r, nil
}

// Details implements activities.ProviderAPI: the identity's user id.
func (a *API) Details(ctx context.Context, ref activities.SessionRef) (activities.Details, error) {
	ident, err := a.identity(ctx, ref)
	if err != nil {
		return activities.Details{}, err
	}
	id, src := ident.UserID()
	return activities.Details{UserID: id, UserIDSource: src, ProviderStatus: ident.Status, UpdatedAt: ident.UpdatedAt()}, nil
}

// userIDSources are the fields Passbase names the app's user in, as
// docs/semantics.md ranks them: the webhook's customer_user_id, else the
// identity's metadata.
var userIDSources = []string{"additional_attributes.customer_user_id", "metadata.customer_user_id", "metadata.user_id"}

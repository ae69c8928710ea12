package veriff

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/go-retryablehttp"
	"go.temporal.io/sdk/temporal"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Name is Veriff's name in routes, workflow ids, metrics and the record.
const Name = "veriff"

// Provider is Veriff's entry in the provider registry.
type Provider struct{}

// Name implements providers.Provider.
func (Provider) Name() string { return Name }

// NewConfig implements providers.Provider.
func (Provider) NewConfig() providers.Config { return &Config{} }

// Parse implements providers.Provider: parsing needs no credentials.
func (Provider) Parse(body []byte) (workflows.Event, error) { return (&Webhooks{}).Parse(body) }

// Webhooks implements providers.Config: every configured integration's
// webhooks.
func (c *Config) Webhooks() (webhook.Provider, error) {
	ins := c.Integrations()
	if len(ins) == 0 {
		return nil, nil
	}
	return NewIntegrations(ins...), nil
}

// AllowedCIDRs implements providers.Config.
func (c *Config) AllowedCIDRs() (string, []string) { return "VERIFF_ALLOWED_CIDRS", c.Allowed }

// WebhookVars implements providers.Config.
func (c *Config) WebhookVars() string {
	return "VERIFF_API_KEY with VERIFF_SHARED_SECRETS (or VERIFF_INTEGRATIONS)"
}

// APIVars implements providers.Config.
func (c *Config) APIVars() string { return c.WebhookVars() }

// Rules implements providers.Config: Veriff's webhooks and poll answers
// carry the app's user id (vendorData), so there are no details to fetch.
func (c *Config) Rules() workflows.Rules {
	return workflows.Rules{AwaitsProcessed: c.AwaitSubmitted, UserIDSources: userIDSources}
}

// API implements providers.Config: a client per configured integration; a
// session's calls use the key and first secret of the integration its
// webhooks came from.
func (c *Config) API(hc *retryablehttp.Client) activities.ProviderAPI {
	api := &API{clients: map[string]*Client{}}
	for _, in := range c.Integrations() {
		if in.Configured() { // the rest is refused by Validate
			api.clients[in.Name] = NewClient(c.BaseURL, in.APIKey, []byte(in.SharedSecrets[0]), hc)
		}
	}
	return api
}

// HasAPI implements providers.Config: some integration has credentials.
func (c *Config) HasAPI() bool {
	return slices.ContainsFunc(c.Integrations(), Integration.Configured)
}

// API is Veriff's station API as the activities call it.
type API struct {
	clients map[string]*Client // by integration name
}

// client is the client of a session's integration.
func (a *API) client(integration string) (*Client, error) {
	if integration == "" {
		integration = DefaultIntegration
	}
	if c := a.clients[integration]; c != nil {
		return c, nil
	}
	key, secrets := Integration{Name: integration}.Vars()
	what := "veriff"
	if integration != DefaultIntegration {
		what, secrets = "veriff integration "+integration, secrets+" (listed in VERIFF_INTEGRATIONS)"
	}
	return nil, activities.NotConfigured(what, key+" and "+secrets)
}

// Poll implements activities.ProviderAPI: the session's decision, if any.
func (a *API) Poll(ctx context.Context, ref activities.SessionRef) (activities.PollResult, error) {
	c, err := a.client(ref.Integration)
	if err != nil {
		return activities.PollResult{}, err
	}
	d, err := c.GetDecision(ctx, ref.SessionID)
	if err != nil || d == nil || d.Status == "" {
		return activities.PollResult{}, err
	}
	r := activities.PollResult{Found: true, ProviderStatus: d.Status, ReasonCode: d.Reason(), AttemptID: d.AttemptID}
	switch {
	case d.DecisionTime != nil:
		r.DecidedAt = *d.DecisionTime
	case d.AcceptanceTime != nil:
		r.DecidedAt = *d.AcceptanceTime
	}
	r.UserID, r.UserIDSource = d.UserID()
	return r, nil
}

// Details implements activities.ProviderAPI. Veriff's webhooks carry what
// the workflow needs (Rules has no FetchesDetails), so it is never asked.
func (a *API) Details(context.Context, activities.SessionRef) (activities.Details, error) {
	return activities.Details{}, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("%s has no details call", Name), "UnsupportedProvider", nil)
}

// userIDSources are the fields Veriff names the app's user in, as
// docs/semantics.md ranks them: vendorData, else endUserId.
var userIDSources = []string{"vendorData", "endUserId"}

// Package onfido is everything idvflow knows of Onfido (Entrust): its
// webhook signature (Sign, Verify), its events (Webhooks), its workflow
// run and check API in its regions (Client, API), its rules for the
// workflow, its configuration, its emulated API and the webhooks of a
// scenario. The rest of idvflow reaches it through providers.Provider.
package onfido

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.temporal.io/sdk/temporal"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/internal/secrets"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Name is Onfido's name in routes, workflow ids, metrics and the record.
const Name = "onfido"

// Provider is Onfido's entry in the provider registry.
type Provider struct{}

// Name implements providers.Provider.
func (Provider) Name() string { return Name }

// NewConfig implements providers.Provider.
func (Provider) NewConfig() providers.Config { return &Config{} }

// Parse implements providers.Provider: parsing needs no credentials.
func (Provider) Parse(body []byte) (workflows.Event, error) { return (&Webhooks{}).Parse(body) }

// publishedToken is the token of onfido-node's published test vector.
const publishedToken = "_ABC123abc123ABC123abc123ABC123_"

// Regions are Onfido's API regions and their base URLs.
var Regions = map[string]string{
	"eu": "https://api.eu.onfido.com",
	"us": "https://api.us.onfido.com",
	"ca": "https://api.ca.onfido.com",
}

// Config is the Onfido part of a binary's environment.
type Config struct {
	WebhookTokens []string `env:"ONFIDO_WEBHOOK_TOKENS"`
	APIToken      string   `env:"ONFIDO_API_TOKEN"`
	Region        string   `env:"ONFIDO_REGION"`
	BaseURL       string   `env:"ONFIDO_BASE_URL"`
	Allowed       []string `env:"ONFIDO_ALLOWED_CIDRS"`
}

// Validate implements providers.Config. An API token needs its region
// (a token of one region is refused by the others): ONFIDO_REGION or
// ONFIDO_BASE_URL, not both.
func (c *Config) Validate() []error {
	var errs []error
	for _, t := range c.WebhookTokens {
		if t == publishedToken {
			errs = append(errs, errors.New("ONFIDO_WEBHOOK_TOKENS holds the token of onfido-node's published test: set the webhook's own token"))
		} else if err := secrets.Check("ONFIDO_WEBHOOK_TOKENS", t, 16); err != nil {
			errs = append(errs, err)
		}
	}
	if secrets.Placeholder(c.APIToken) {
		errs = append(errs, errors.New("ONFIDO_API_TOKEN is a placeholder: set the API token"))
	}
	if _, ok := Regions[c.Region]; c.Region != "" && !ok {
		errs = append(errs, errors.New("ONFIDO_REGION must be eu, us or ca"))
	}
	switch {
	case c.Region != "" && c.BaseURL != "":
		errs = append(errs, errors.New("ONFIDO_REGION and ONFIDO_BASE_URL are both set: set one"))
	case c.APIToken != "" && c.Region == "" && c.BaseURL == "":
		errs = append(errs, errors.New("ONFIDO_API_TOKEN needs ONFIDO_REGION (eu, us or ca: where the account lives) or ONFIDO_BASE_URL"))
	}
	return errs
}

// baseURL is the API's base URL: ONFIDO_BASE_URL, else the region's.
func (c *Config) baseURL() string {
	if c.BaseURL != "" {
		return c.BaseURL
	}
	return Regions[c.Region]
}

// Webhooks implements providers.Config.
func (c *Config) Webhooks() (webhook.Provider, error) {
	if len(c.WebhookTokens) == 0 {
		return nil, nil
	}
	return NewWebhooks(c.WebhookTokens)
}

// AllowedCIDRs implements providers.Config.
func (c *Config) AllowedCIDRs() (string, []string) { return "ONFIDO_ALLOWED_CIDRS", c.Allowed }

// WebhookVars implements providers.Config.
func (c *Config) WebhookVars() string { return "ONFIDO_WEBHOOK_TOKENS" }

// APIVars implements providers.Config.
func (c *Config) APIVars() string { return "ONFIDO_API_TOKEN and ONFIDO_REGION" }

// Rules implements providers.Config: Onfido's webhooks name no user, so
// the run's customer_user_id (a classic check's applicant_id) is fetched.
func (c *Config) Rules() workflows.Rules {
	return workflows.Rules{FetchesDetails: true, UserIDSources: []string{"customer_user_id", "applicant_id"}}
}

// API implements providers.Config.
func (c *Config) API(hc *retryablehttp.Client) activities.ProviderAPI {
	if !c.HasAPI() {
		return &API{}
	}
	return &API{client: NewClient(c.baseURL(), c.APIToken, hc)}
}

// HasAPI implements providers.Config.
func (c *Config) HasAPI() bool { return c.APIToken != "" && c.baseURL() != "" }

// API is Onfido's API as the activities call it.
type API struct{ client *Client }

// session reads the session's object: its workflow run, else (404) its
// classic check. Both ids are UUIDs, so the run is asked first.
func (a *API) session(ctx context.Context, id string) (*Run, *Check, error) {
	if a.client == nil {
		return nil, nil, activities.NotConfigured(Name, "ONFIDO_API_TOKEN and ONFIDO_REGION")
	}
	run, err := a.client.GetWorkflowRun(ctx, id)
	var apiErr *httpapi.APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		check, err := a.client.GetCheck(ctx, id)
		return nil, check, err
	}
	return run, nil, err
}

// Poll implements activities.ProviderAPI: the run's (or check's) decision
// in idvflow's words.
func (a *API) Poll(ctx context.Context, ref activities.SessionRef) (activities.PollResult, error) {
	run, check, err := a.session(ctx, ref.SessionID)
	if err != nil {
		return activities.PollResult{}, err
	}
	var d workflows.Status
	var at time.Time
	var user, source string
	if run != nil {
		d, _ = RunDecision(run.Status)
		at, err = run.decidedAt()
		user, source = run.UserID()
	} else {
		d = CheckDecision(check.Status, check.Result)
		user, source = check.ApplicantID, "applicant_id"
	}
	if err != nil {
		return activities.PollResult{}, temporal.NewNonRetryableApplicationError("onfido: "+err.Error(), "InvalidAnswer", nil)
	}
	if d == "" {
		return activities.PollResult{}, nil
	}
	return activities.PollResult{Found: true, ProviderStatus: string(d), DecidedAt: at, UserID: user, UserIDSource: sourceIf(user, source)}, nil
}

// Details implements activities.ProviderAPI: the app's user id.
func (a *API) Details(ctx context.Context, ref activities.SessionRef) (activities.Details, error) {
	run, check, err := a.session(ctx, ref.SessionID)
	if err != nil {
		return activities.Details{}, err
	}
	if run != nil {
		u, s := run.UserID()
		return activities.Details{UserID: u, UserIDSource: sourceIf(u, s), ProviderStatus: run.Status}, nil
	}
	return activities.Details{UserID: check.ApplicantID, UserIDSource: sourceIf(check.ApplicantID, "applicant_id"), ProviderStatus: check.Status}, nil
}

func sourceIf(user, source string) string {
	if user == "" {
		return ""
	}
	return source
}

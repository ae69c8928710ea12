// Package persona is everything idvflow knows of Persona (withpersona.com):
// its signature, whose header carries the time it was sent (Sign, Verify),
// its events (Webhooks), its inquiry API (Client, API), its rules for the
// workflow, its configuration, its emulated API and the events of a
// scenario. The rest of idvflow reaches it through providers.Provider.
package persona

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.temporal.io/sdk/temporal"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/internal/secrets"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Name is Persona's name in routes, workflow ids, metrics and the record.
const Name = "persona"

// Provider is Persona's entry in the provider registry.
type Provider struct{}

// Name implements providers.Provider.
func (Provider) Name() string { return Name }

// NewConfig implements providers.Provider.
func (Provider) NewConfig() providers.Config { return &Config{} }

// Parse implements providers.Provider: parsing needs no credentials.
func (Provider) Parse(body []byte) (workflows.Event, error) { return (&Webhooks{}).Parse(body) }

// MaxTolerance bounds PERSONA_SIGNATURE_TOLERANCE: Persona signs every
// attempt when it sends it, so a longer window only lengthens the time a
// captured request can be replayed.
const MaxTolerance = time.Hour

// Config is the Persona part of a binary's environment: the webhook
// secrets (more than one while a secret rotates), how far a signature's
// time may be from the receiver's clock, and the API key.
type Config struct {
	WebhookSecrets []string      `env:"PERSONA_WEBHOOK_SECRETS"`
	Tolerance      time.Duration `env:"PERSONA_SIGNATURE_TOLERANCE, default=5m"`
	APIKey         string        `env:"PERSONA_API_KEY"`
	BaseURL        string        `env:"PERSONA_BASE_URL, default=https://api.withpersona.com"`
	Allowed        []string      `env:"PERSONA_ALLOWED_CIDRS"`
}

// Validate implements providers.Config. A tolerance of zero or less is
// refused rather than read as "no check", and so is one over
// MaxTolerance.
func (c *Config) Validate() []error {
	var errs []error
	for _, s := range c.WebhookSecrets {
		if err := secrets.Check("PERSONA_WEBHOOK_SECRETS", s, 16); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Tolerance <= 0 {
		errs = append(errs, errors.New("PERSONA_SIGNATURE_TOLERANCE must be positive (default 5m): "+
			"it is how old a signature may be, and there is no setting that turns the check off"))
	} else if c.Tolerance > MaxTolerance {
		errs = append(errs, fmt.Errorf("PERSONA_SIGNATURE_TOLERANCE is over %s: Persona signs each retry anew, "+
			"so a longer window only lets a captured webhook be replayed for longer", MaxTolerance))
	}
	if secrets.Placeholder(c.APIKey) {
		errs = append(errs, errors.New("PERSONA_API_KEY is a placeholder: set the environment's API key"))
	}
	return errs
}

// Webhooks implements providers.Config.
func (c *Config) Webhooks() (webhook.Provider, error) {
	if len(c.WebhookSecrets) == 0 {
		return nil, nil
	}
	return NewWebhooks(c.WebhookSecrets, c.Tolerance)
}

// AllowedCIDRs implements providers.Config.
func (c *Config) AllowedCIDRs() (string, []string) { return "PERSONA_ALLOWED_CIDRS", c.Allowed }

// WebhookVars implements providers.Config.
func (c *Config) WebhookVars() string { return "PERSONA_WEBHOOK_SECRETS" }

// APIVars implements providers.Config.
func (c *Config) APIVars() string { return "PERSONA_API_KEY" }

// Rules implements providers.Config: Persona's events carry the inquiry,
// reference-id included, so there are no details to fetch; a decision
// does not wait for inquiry.completed (a reviewer can decide an inquiry
// that never completed, and Persona's events come in any order).
func (c *Config) Rules() workflows.Rules {
	return workflows.Rules{UserIDSources: []string{userIDSource}}
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

// API is Persona's inquiry API as the activities call it.
type API struct {
	client *Client // nil without PERSONA_API_KEY
}

// Poll implements activities.ProviderAPI: the inquiry's decision, if it
// has one. Its status is answered in idvflow's words (needs_review is
// review), since the workflow reads the poll's status as the decision.
func (a *API) Poll(ctx context.Context, ref activities.SessionRef) (activities.PollResult, error) {
	if a.client == nil {
		return activities.PollResult{}, activities.NotConfigured(Name, "PERSONA_API_KEY")
	}
	inq, err := a.client.GetInquiry(ctx, ref.SessionID)
	if err != nil {
		return activities.PollResult{}, err
	}
	d := inq.Decision()
	if d == "" {
		return activities.PollResult{}, nil
	}
	at, err := inq.decidedAt(d)
	if err != nil {
		// A time that is not one: an answer idvflow cannot store (R8).
		return activities.PollResult{}, temporal.NewNonRetryableApplicationError(
			"persona GET /api/v1/inquiries/{id}: "+err.Error(), "InvalidAnswer", nil)
	}
	r := activities.PollResult{Found: true, ProviderStatus: string(d), DecidedAt: at}
	if inq.ReferenceID != nil && *inq.ReferenceID != "" {
		r.UserID, r.UserIDSource = *inq.ReferenceID, userIDSource
	}
	return r, nil
}

// Details implements activities.ProviderAPI. Persona's events carry what
// the workflow needs (Rules has no FetchesDetails), so it is never asked.
func (a *API) Details(context.Context, activities.SessionRef) (activities.Details, error) {
	return activities.Details{}, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("%s has no details call", Name), "UnsupportedProvider", nil)
}

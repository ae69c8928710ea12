// Package sumsub is everything idvflow knows of Sumsub (sumsub.com): its
// webhook digest, whose algorithm the sender names (Sign, Verify), its
// events (Webhooks), its applicant API with its per-request signature
// (Client, API), its rules for the workflow, its configuration, its
// emulated API and the events of a scenario. The rest of idvflow reaches
// it through providers.Provider.
package sumsub

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

// Name is Sumsub's name in routes, workflow ids, metrics and the record.
const Name = "sumsub"

// Provider is Sumsub's entry in the provider registry.
type Provider struct{}

// Name implements providers.Provider.
func (Provider) Name() string { return Name }

// NewConfig implements providers.Provider.
func (Provider) NewConfig() providers.Config { return &Config{} }

// Parse implements providers.Provider: parsing needs no credentials.
func (Provider) Parse(body []byte) (workflows.Event, error) { return (&Webhooks{}).Parse(body) }

// publishedSecret is the secret of Sumsub's published digest example,
// which anyone can sign with.
const publishedSecret = "SoMe_SeCrEt_KeY"

// Config is the Sumsub part of a binary's environment: the webhook
// secrets (more than one while a secret rotates), the digest algorithms
// accepted, and the app token with its secret key for the API.
type Config struct {
	WebhookSecrets []string `env:"SUMSUB_WEBHOOK_SECRETS"`
	DigestAlgs     []string `env:"SUMSUB_DIGEST_ALGS, default=HMAC_SHA256_HEX,HMAC_SHA512_HEX"`
	AppToken       string   `env:"SUMSUB_APP_TOKEN"`
	SecretKey      string   `env:"SUMSUB_SECRET_KEY"`
	BaseURL        string   `env:"SUMSUB_BASE_URL, default=https://api.sumsub.com"`
	Allowed        []string `env:"SUMSUB_ALLOWED_CIDRS"`
}

// Validate implements providers.Config. An unknown or empty algorithm
// list is refused rather than read as "any", and so is an app token
// without its secret key (or the reverse): each alone signs nothing.
func (c *Config) Validate() []error {
	var errs []error
	for _, s := range c.WebhookSecrets {
		if s == publishedSecret {
			errs = append(errs, errors.New("SUMSUB_WEBHOOK_SECRETS holds the secret of Sumsub's published example: set the webhook's own secret"))
		} else if err := secrets.Check("SUMSUB_WEBHOOK_SECRETS", s, 16); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := ParseAlgs(c.DigestAlgs); err != nil {
		errs = append(errs, err)
	}
	switch {
	case secrets.Placeholder(c.AppToken):
		errs = append(errs, errors.New("SUMSUB_APP_TOKEN is a placeholder: set the app token"))
	case secrets.Placeholder(c.SecretKey):
		errs = append(errs, errors.New("SUMSUB_SECRET_KEY is a placeholder: set the app token's secret key"))
	case (c.AppToken == "") != (c.SecretKey == ""):
		errs = append(errs, errors.New("SUMSUB_APP_TOKEN and SUMSUB_SECRET_KEY go together: every API request is signed with the token's secret key"))
	}
	return errs
}

// Webhooks implements providers.Config.
func (c *Config) Webhooks() (webhook.Provider, error) {
	if len(c.WebhookSecrets) == 0 {
		return nil, nil
	}
	algs, err := ParseAlgs(c.DigestAlgs)
	if err != nil {
		return nil, err
	}
	return NewWebhooks(c.WebhookSecrets, algs)
}

// Warnings implements providers.Warner: SHA-1 is accepted only because
// the configuration asks for it.
func (c *Config) Warnings() []string {
	algs, _ := ParseAlgs(c.DigestAlgs)
	for _, a := range algs {
		if a == SHA1 && len(c.WebhookSecrets) > 0 {
			return []string{"SUMSUB_DIGEST_ALGS accepts HMAC_SHA1_HEX, Sumsub's legacy digest: switch the webhook to SHA-256 in Sumsub's webhook manager and drop it"}
		}
	}
	return nil
}

// AllowedCIDRs implements providers.Config.
func (c *Config) AllowedCIDRs() (string, []string) { return "SUMSUB_ALLOWED_CIDRS", c.Allowed }

// WebhookVars implements providers.Config.
func (c *Config) WebhookVars() string { return "SUMSUB_WEBHOOK_SECRETS" }

// APIVars implements providers.Config.
func (c *Config) APIVars() string { return "SUMSUB_APP_TOKEN and SUMSUB_SECRET_KEY" }

// Rules implements providers.Config: Sumsub's webhooks carry
// externalUserId, so there are no details to fetch; a decision does not
// wait for applicantPrechecked (a reviewer can decide at any point, and
// the webhooks come in any order).
func (c *Config) Rules() workflows.Rules {
	return workflows.Rules{UserIDSources: []string{userIDSource}}
}

// API implements providers.Config.
func (c *Config) API(hc *retryablehttp.Client) activities.ProviderAPI {
	if !c.HasAPI() {
		return &API{}
	}
	return &API{client: NewClient(c.BaseURL, c.AppToken, c.SecretKey, hc)}
}

// HasAPI implements providers.Config.
func (c *Config) HasAPI() bool { return c.AppToken != "" && c.SecretKey != "" }

// API is Sumsub's applicant API as the activities call it.
type API struct {
	client *Client // nil without SUMSUB_APP_TOKEN and SUMSUB_SECRET_KEY
}

// Poll implements activities.ProviderAPI: the applicant's current review
// as a decision, if it has one, in idvflow's words (the workflow reads the
// poll's status as the decision), with the review's reviewDate as its
// time.
func (a *API) Poll(ctx context.Context, ref activities.SessionRef) (activities.PollResult, error) {
	if a.client == nil {
		return activities.PollResult{}, activities.NotConfigured(Name, "SUMSUB_APP_TOKEN and SUMSUB_SECRET_KEY")
	}
	app, err := a.client.GetApplicant(ctx, ref.SessionID)
	if err != nil {
		return activities.PollResult{}, err
	}
	d, reason, err := app.Decision()
	if err == nil && d == "" {
		return activities.PollResult{}, nil
	}
	var at time.Time // onHold has no time of its own: ordered by the poll (R5)
	if err == nil && d != workflows.StatusReview {
		at, err = app.ReviewedAt()
	}
	if err != nil {
		// A review idvflow cannot read: an answer it cannot store (R8).
		return activities.PollResult{}, temporal.NewNonRetryableApplicationError(
			"sumsub GET /resources/applicants/{id}/one: "+err.Error(), "InvalidAnswer", nil)
	}
	r := activities.PollResult{Found: true, ProviderStatus: string(d), ReasonCode: reason, DecidedAt: at}
	if app.ExternalUserID != nil && *app.ExternalUserID != "" {
		r.UserID, r.UserIDSource = *app.ExternalUserID, userIDSource
	}
	return r, nil
}

// Details implements activities.ProviderAPI. Sumsub's webhooks carry what
// the workflow needs (Rules has no FetchesDetails), so it is never asked.
func (a *API) Details(context.Context, activities.SessionRef) (activities.Details, error) {
	return activities.Details{}, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("%s has no details call", Name), "UnsupportedProvider", nil)
}

// Package worker wires idvflow together: it builds the provider clients and
// the user store, registers the workflow and activities with a Temporal
// worker, registers the search attributes, and serves the admin API.
package worker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sethvargo/go-envconfig"

	_ "github.com/idvflow/idvflow/activities/userstore/drivers" // the store's SQL drivers

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/activities/notify"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/internal/httpserve"
	"github.com/idvflow/idvflow/internal/logging"
	"github.com/idvflow/idvflow/internal/secrets"
	"github.com/idvflow/idvflow/internal/telemetry"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/internal/userref"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/providers/registry"
	"github.com/idvflow/idvflow/record"
	"github.com/idvflow/idvflow/workflows"
)

// Config is everything cmd/worker reads from the environment.
type Config struct {
	Temporal    temporalconn.Config
	TaskQueue   string `env:"IDV_TASK_QUEUE, default=idv-verification"`
	DatabaseURL string `env:"IDV_DATABASE_URL, default=sqlite:idvflow.db"`
	AdminAddr   string `env:"IDV_ADMIN_ADDR, default=127.0.0.1:8081"`
	AdminToken  string `env:"IDV_ADMIN_TOKEN"`
	// AdminTLSCert and AdminTLSKey, both set, make the admin API serve
	// HTTPS (TLS 1.2+) itself: it carries the token, user records and
	// opened quarantine bodies.
	AdminTLSCert string `env:"IDV_ADMIN_TLS_CERT"`
	AdminTLSKey  string `env:"IDV_ADMIN_TLS_KEY"`
	// AdminPlainHTTP says why plain HTTP is safe on an address other hosts
	// can reach: "tls-proxy" (TLS ends in a proxy in front of it) or
	// "private-network" (only a network you trust reaches it). Unset, such
	// an address needs AdminTLSCert; no other word is taken, so it cannot
	// be switched off by accident.
	AdminPlainHTTP string `env:"IDV_ADMIN_PLAIN_HTTP"`
	// StopTimeout is how long a stopping worker lets running activities
	// finish before it cancels them.
	StopTimeout time.Duration `env:"IDV_WORKER_STOP_TIMEOUT, default=30s"`
	// CodecOrigins may call the admin API's codec endpoint from a browser
	// (the Temporal Web UI's origin).
	CodecOrigins []string `env:"IDV_CODEC_CORS_ORIGINS, default=http://127.0.0.1:8233,http://localhost:8233"`

	// ProviderTimeout bounds one HTTP attempt to a provider's API.
	ProviderTimeout time.Duration `env:"IDV_PROVIDER_TIMEOUT, default=10s"`

	// Providers is each registered provider's variables (providers/registry).
	Providers providers.Configs

	// NotifyURL receives each final decision, signed with NotifySecret
	// ("whsec_…", Standard Webhooks); unset, the notify step is skipped.
	NotifyURL    string `env:"IDV_NOTIFY_URL"`
	NotifySecret string `env:"IDV_NOTIFY_SECRET"`

	// ReviewStatuses are the statuses the onboarding's review gate holds
	// for a person (docs/extending.md); unset, there is no gate.
	ReviewStatuses []string `env:"IDV_REVIEW_STATUSES"`
	// OnboardingIdle is how long an onboarding run with nothing left to do
	// stays open before it closes.
	OnboardingIdle time.Duration `env:"IDV_ONBOARDING_IDLE, default=10m"`

	// Deployment and BuildID make the worker a version of a Worker
	// Deployment (README "Deploying new code"); unset, it is unversioned.
	Deployment string `env:"IDV_WORKER_DEPLOYMENT"`
	BuildID    string `env:"IDV_WORKER_BUILD_ID"`

	// UserIDs says how user ids appear in visibility; the receiver's must match.
	UserIDs userref.Config

	Workflow workflows.Config
	Log      logging.Config
}

// Expand implements envconf.Expander: it reads every registered provider's
// variables.
func (c *Config) Expand(ctx context.Context, lookup envconfig.Lookuper) []error {
	var errs []error
	c.Providers, errs = providers.Load(ctx, registry.All(), lookup)
	return errs
}

// Validate implements envconf.Validator.
func (c *Config) Validate() []error {
	errs := c.Workflow.Validate()
	errs = append(errs, c.Log.Validate()...)
	errs = append(errs, envconf.Required("IDV_TASK_QUEUE", c.TaskQueue, "IDV_DATABASE_URL", c.DatabaseURL)...)
	errs = append(errs, c.Providers.Validate()...)
	if len(c.Providers.WithoutAPI()) == len(c.Providers.Names()) {
		var vars []string
		for _, n := range c.Providers.Names() {
			vars = append(vars, c.Providers.Get(n).APIVars())
		}
		errs = append(errs, fmt.Errorf("no provider configured: set %s", strings.Join(vars, ", or ")))
	}
	errs = append(errs, c.checkAdmin()...)
	if c.AdminToken != "" {
		if err := secrets.Check("IDV_ADMIN_TOKEN", c.AdminToken, 16); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.Temporal.Validate()...)
	errs = append(errs, c.UserIDs.Validate()...)
	if c.NotifyURL != "" {
		if u, err := url.Parse(c.NotifyURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("IDV_NOTIFY_URL must be an http(s) URL"))
		}
		// The app verifies every message with this key: a key anyone can
		// guess or has read in the docs would let anyone send it verdicts.
		switch key, err := notify.ParseSecret(c.NotifySecret); {
		case err != nil:
			errs = append(errs, fmt.Errorf("IDV_NOTIFY_SECRET (required with IDV_NOTIFY_URL) %w", err))
		case secrets.Placeholder(c.NotifySecret):
			errs = append(errs, errors.New("IDV_NOTIFY_SECRET is a placeholder or a secret published in documentation: make one with echo whsec_$(openssl rand -base64 32)"))
		default:
			if err := secrets.CheckKey("IDV_NOTIFY_SECRET", key); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, st := range c.ReviewStatuses {
		if !record.Final(st) {
			errs = append(errs, fmt.Errorf("IDV_REVIEW_STATUSES: %q is not a final status (approved, declined, expired, abandoned)", st))
		}
	}
	if c.OnboardingIdle < 0 {
		errs = append(errs, fmt.Errorf("IDV_ONBOARDING_IDLE must not be negative, got %s", c.OnboardingIdle))
	}
	if (c.Deployment == "") != (c.BuildID == "") {
		errs = append(errs, errors.New("IDV_WORKER_DEPLOYMENT and IDV_WORKER_BUILD_ID go together: set both (a versioned worker) or neither"))
	}
	return errs
}

// Plan is the onboarding steps this worker's configuration gives, in the
// order they run: the review gate (IDV_REVIEW_STATUSES), then the notify
// step (IDV_NOTIFY_URL).
func (c *Config) Plan() onboarding.Plan {
	p := onboarding.Plan{Review: c.ReviewStatuses, Idle: c.OnboardingIdle}
	if len(c.ReviewStatuses) > 0 {
		p.Steps = append(p.Steps, onboarding.StepReview)
	}
	if c.NotifyURL != "" {
		p.Steps = append(p.Steps, onboarding.StepNotify)
	}
	return p
}

// Words IDV_ADMIN_PLAIN_HTTP takes.
const (
	PlainHTTPBehindTLSProxy   = "tls-proxy"
	PlainHTTPOnPrivateNetwork = "private-network"
)

// checkAdmin refuses an admin API reachable from other hosts without a
// token, or in plain HTTP unless IDV_ADMIN_PLAIN_HTTP says why that is
// safe there; and half a TLS configuration.
func (c *Config) checkAdmin() []error {
	host, _, err := net.SplitHostPort(c.AdminAddr)
	if err != nil {
		return []error{fmt.Errorf("IDV_ADMIN_ADDR %q is not host:port: %w", c.AdminAddr, err)}
	}
	var errs []error
	withTLS := c.AdminTLSCert != "" || c.AdminTLSKey != ""
	switch {
	case c.AdminTLSCert == "" && c.AdminTLSKey != "":
		errs = append(errs, errors.New("IDV_ADMIN_TLS_KEY is set without IDV_ADMIN_TLS_CERT: set both or neither"))
	case c.AdminTLSCert != "" && c.AdminTLSKey == "":
		errs = append(errs, errors.New("IDV_ADMIN_TLS_CERT is set without IDV_ADMIN_TLS_KEY: set both or neither"))
	case withTLS:
		// Read now, so a wrong path or a key of another certificate stops
		// the start with the variables named, not the first request.
		if _, err := tls.LoadX509KeyPair(c.AdminTLSCert, c.AdminTLSKey); err != nil {
			errs = append(errs, fmt.Errorf("IDV_ADMIN_TLS_CERT and IDV_ADMIN_TLS_KEY: %w", err))
		}
	}
	switch c.AdminPlainHTTP {
	case "":
	case PlainHTTPBehindTLSProxy, PlainHTTPOnPrivateNetwork:
		if withTLS {
			errs = append(errs, fmt.Errorf("IDV_ADMIN_PLAIN_HTTP=%s says plain HTTP, but IDV_ADMIN_TLS_CERT/IDV_ADMIN_TLS_KEY serve TLS: keep one", c.AdminPlainHTTP))
		}
	default:
		errs = append(errs, fmt.Errorf("IDV_ADMIN_PLAIN_HTTP must be %q (TLS ends in a proxy in front) or %q (only a network you trust reaches the address), or unset",
			PlainHTTPBehindTLSProxy, PlainHTTPOnPrivateNetwork))
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return errs // only this machine reaches it
	}
	if c.AdminToken == "" {
		errs = append(errs, fmt.Errorf("IDV_ADMIN_ADDR %q is not a loopback address: set IDV_ADMIN_TOKEN", c.AdminAddr))
	}
	if !withTLS && c.AdminPlainHTTP == "" {
		errs = append(errs, fmt.Errorf("IDV_ADMIN_ADDR %q is not a loopback address and the admin API carries its token, user records and quarantined bodies: "+
			"serve TLS (IDV_ADMIN_TLS_CERT and IDV_ADMIN_TLS_KEY), or say why plain HTTP is safe there with IDV_ADMIN_PLAIN_HTTP=%s or %s",
			c.AdminAddr, PlainHTTPBehindTLSProxy, PlainHTTPOnPrivateNetwork))
	}
	return errs
}

// ServeAdmin serves the admin API h on cfg.AdminAddr until ctx ends, over
// HTTPS (TLS 1.2+) when IDV_ADMIN_TLS_CERT and IDV_ADMIN_TLS_KEY are set.
func ServeAdmin(ctx context.Context, cfg *Config, h http.Handler, log *slog.Logger) error {
	srv := httpserve.Server(cfg.AdminAddr, h)
	if cfg.AdminTLSCert == "" {
		return httpserve.Run(ctx, srv, log)
	}
	srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	return httpserve.RunTLS(ctx, srv, cfg.AdminTLSCert, cfg.AdminTLSKey, log)
}

// NewActivities builds the activities' clients from cfg. A provider without
// credentials still gets its API, which answers NotConfigured: its
// sessions' calls wait for a worker that has them.
func NewActivities(cfg *Config, users *userstore.Store, tc client.Client, log *slog.Logger) *activities.Activities {
	hc := httpapi.NewClient(httpapi.Options{Timeout: cfg.ProviderTimeout, Logger: log.With("component", "provider-api")})
	starter := onboarding.Starter{Client: tc, TaskQueue: cfg.TaskQueue}
	a := &activities.Activities{Users: users, UserRef: cfg.UserIDs.New(), OpenOnboarding: starter}
	if plan := cfg.Plan(); len(plan.Steps) > 0 {
		a.Onboarding = starter
	}
	a.Providers = cfg.Providers.APIs(hc)
	if cfg.NotifyURL != "" {
		key, _ := notify.ParseSecret(cfg.NotifySecret) // checked by Validate
		a.Notify = notify.New(cfg.NotifyURL, key, httpapi.NewClient(httpapi.Options{Logger: log.With("component", "notify"), SecretURL: true}))
	}
	return a
}

// WorkflowConfig is the workflow's configuration: the timings, each
// provider's rules and the onboarding plan.
func (c *Config) WorkflowConfig() workflows.Config {
	wf := c.Workflow
	wf.Rules, wf.Onboarding = c.Providers.Rules(), c.Plan()
	wf.UserIDs = &UserIDForm{Ref: c.UserIDs.New()}
	return wf
}

// UserIDForm is the worker's IDV_USER_ID_ATTRIBUTE as its workflows use it
// (workflows.UserIDForm): IdvUserId is written in the worker's form, and a
// user id that came in another form (a receiver set differently) is
// warned of once per form.
type UserIDForm struct {
	userref.Ref
	warned sync.Map // from → true
}

// FirstMismatch implements workflows.UserIDForm.
func (f *UserIDForm) FirstMismatch(from string) bool {
	_, seen := f.warned.LoadOrStore(from, true)
	return !seen
}

// Register registers the workflows and activities on w.
//
// A worker whose configuration gives no onboarding step (no
// IDV_NOTIFY_URL, no IDV_REVIEW_STATUSES) does not register the
// onboarding: an onboarding records the plan of the worker that runs its
// first task, and a worker that cannot run the plan must never take a
// change. Its onboarding tasks go to a worker that has the plan, as a
// session's provider call goes to a worker with the provider's keys.
func Register(w sdkworker.Registry, acts *activities.Activities, wf workflows.Config) {
	registerWorkflows(w, wf, len(wf.Onboarding.Steps) > 0)
	w.RegisterActivity(acts)
}

// RegisterWorkflows registers idvflow's workflow types, under the names
// their histories carry, on w: a worker, or a replayer (cmd/replaycheck).
//
// Each type's versioning behaviour applies when the worker is a version of
// a Worker Deployment: a session auto-upgrades to the current version (a
// change to its commands goes behind GetVersion and replays the committed
// 1.0 histories, docs/extending.md: a session lives for days, and pinning it would keep every old
// build running for IDV_SESSION_EXPIRY + IDV_LATE_EVENT_WINDOW); an
// onboarding run is pinned to the version it started on, so a change's
// steps run as the code that took the change promised, without patches.
func RegisterWorkflows(w sdkworker.WorkflowRegistry, wf workflows.Config) {
	registerWorkflows(w, wf, true)
}

func registerWorkflows(w sdkworker.WorkflowRegistry, wf workflows.Config, withOnboarding bool) {
	v := &workflows.Verification{Config: wf}
	w.RegisterWorkflowWithOptions(v.VerificationWorkflow, workflow.RegisterOptions{
		Name: workflows.WorkflowName, VersioningBehavior: workflow.VersioningBehaviorAutoUpgrade,
	})
	if withOnboarding {
		o := &workflows.Onboarding{Plan: wf.Onboarding, ActivityTimeout: wf.ActivityTimeout}
		w.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{
			Name: onboarding.WorkflowName, VersioningBehavior: workflow.VersioningBehaviorPinned,
		})
	}
	// A bulk operation runs for minutes and is pinned like an onboarding.
	w.RegisterWorkflowWithOptions(operator.OperationWorkflow, workflow.RegisterOptions{
		Name: operator.WorkflowName, VersioningBehavior: workflow.VersioningBehaviorPinned,
	})
}

// RegisterOperator registers the operators' activities on w: the bulk
// operations' (a worker without them leaves those tasks to one that has
// them), and the local activity with which a session's run that reopens
// it reads the session's earlier runs (workflows.EarlierRunsActivity),
// which every worker that runs sessions must have.
func RegisterOperator(w sdkworker.ActivityRegistry, op *operator.Operator) {
	w.RegisterActivity(&operator.Activities{Operator: op})
}

// NewOperator is the operators' actions as this worker does them, and how
// a session's run that reopens it reads the session's earlier runs
// (operator.Activities.EarlierRuns).
func NewOperator(cfg *Config, tc client.Client, namespace string, acts *activities.Activities, users *userstore.Store,
	log *slog.Logger, tel *telemetry.Telemetry) *operator.Operator {
	op := &operator.Operator{
		Temporal: tc, Namespace: namespace, TaskQueue: cfg.TaskQueue, Poller: acts, Audit: users,
		Log: log.With("component", "operator"), Tel: tel,
	}
	if codec, _ := cfg.Temporal.Codec(); codec != nil { // checked by Validate
		op.Data = codec.DataConverter()
	}
	op.Providers = map[string]bool{}
	for _, p := range registry.All() {
		op.Providers[p.Name()] = true
	}
	return op
}

// WorkerOptions are Options with this worker's deployment version, when it
// has one.
func (c *Config) WorkerOptions() sdkworker.Options {
	o := Options(c.StopTimeout)
	if c.BuildID != "" {
		o.DeploymentOptions = sdkworker.DeploymentOptions{
			UseVersioning: true,
			Version:       sdkworker.WorkerDeploymentVersion{DeploymentName: c.Deployment, BuildID: c.BuildID},
		}
	}
	return o
}

// RegisterSearchAttributes adds idvflow's search attributes to the
// namespace if they are missing; running it again changes nothing.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	list, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, key := range workflows.SearchAttributes {
		if _, ok := list.GetCustomAttributes()[key.GetName()]; !ok {
			missing[key.GetName()] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}

// Options are the worker options cmd/worker uses; tests use them too.
func Options(stopTimeout time.Duration) sdkworker.Options {
	return sdkworker.Options{
		WorkerStopTimeout: stopTimeout,
		// A panic in workflow code, including a payload this worker cannot
		// decode (temporalconn's guard), fails the workflow task, which
		// Temporal retries, never the session.
		WorkflowPanicPolicy: sdkworker.BlockWorkflow,
		Interceptors:        []interceptor.WorkerInterceptor{&failureCounter{}},
	}
}

// Run is cmd/worker: it runs until ctx is cancelled, then stops polling
// and lets running activities finish within cfg.StopTimeout.
func Run(ctx context.Context, cfg *Config, log *slog.Logger, tel *telemetry.Telemetry) error {
	users, err := userstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer users.Close()

	conn, err := cfg.Temporal.Connection()
	if err != nil {
		return err
	}
	tc, err := temporalconn.Lazy(cfg.Temporal, log, tel)
	if err != nil {
		return err
	}
	defer tc.Close()
	if err := retry(ctx, log, "register search attributes", func() error {
		return RegisterSearchAttributes(ctx, tc, conn.Namespace)
	}); err != nil {
		return err
	}

	// Sessions of a provider this worker cannot call are left to workers
	// that can (their activities retry); say so once, at start.
	for _, n := range cfg.Providers.WithoutAPI() {
		log.Warn(n+" API not configured on this worker: its sessions' API calls wait for a worker with "+cfg.Providers.Get(n).APIVars(),
			"task_queue", cfg.TaskQueue)
	}
	if cfg.Temporal.PayloadKeys == "" {
		log.Warn("IDV_PAYLOAD_KEYS not set: this worker reads and writes plain payloads; sessions encrypted by other workers or receivers wait for one that has the keys",
			"task_queue", cfg.TaskQueue)
	}
	// The onboarding's plan is each worker's: workers that differ hand
	// over differently (docs/semantics.md, known limits), so say it.
	if plan := cfg.Plan(); len(plan.Steps) == 0 {
		// Info, not a warning: a deployment without an app to notify is
		// set up so; a fleet that differs is what the line shows.
		log.Info("onboarding plan: no step (IDV_NOTIFY_URL and IDV_REVIEW_STATUSES unset): this worker runs no onboarding and hands no change over; set them alike on every worker",
			"task_queue", cfg.TaskQueue)
	} else {
		log.Info("onboarding plan", "steps", plan.Steps, "review", plan.Review, "task_queue", cfg.TaskQueue)
	}
	w := sdkworker.New(tc, cfg.TaskQueue, cfg.WorkerOptions())
	acts := NewActivities(cfg, users, tc, log)
	Register(w, acts, cfg.WorkflowConfig())
	op := NewOperator(cfg, tc, conn.Namespace, acts, users, log, tel)
	RegisterOperator(w, op)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on %s: %w", cfg.TaskQueue, err)
	}
	defer w.Stop()

	api := admin.New(users, tc, cfg.AdminToken, log).WithMetrics(metricsHandler(tel)).WithUserRef(cfg.UserIDs.New()).
		WithOps(admin.Ops{Operator: op, Store: users, Providers: registry.All(), HandOwed: acts.HandOwed})
	if codec, _ := cfg.Temporal.Codec(); codec != nil { // checked by Validate
		api = api.WithCodec(codec, cfg.CodecOrigins).WithOpener(codec)
	}
	return ServeAdmin(ctx, cfg, api.Handler(), log)
}

func metricsHandler(tel *telemetry.Telemetry) http.Handler {
	if tel == nil {
		return nil
	}
	return tel.MetricsHandler()
}

// retry calls f with a capped backoff until it succeeds or ctx ends, so a
// worker started before Temporal waits for it instead of exiting.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	wait := 500 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		log.Warn(what+" failed; retrying", "error", err, "in", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// Package testkit starts idvflow in one process for tests: a real Temporal
// server (temporaltest), the worker with the real activities, the receiver
// and the admin API on httptest, the provider emulator and a SQLite user
// store. The worker and the receiver are configured from variables by the
// production loader, as cmd/worker, cmd/receiver and cmd/dev configure
// theirs; the providers' variables are their dev defaults (DevEnv).
package testkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/internal/telemetry"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers/registry"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/simulator"
	"github.com/idvflow/idvflow/worker"
	"github.com/idvflow/idvflow/workflows"
)

// The stack's own names and credentials; the providers' are their
// packages' dev credentials.
const (
	TaskQueue    = "idv-test"
	AdminToken   = "admin-token-for-tests"
	NotifySecret = "whsec_VGmxXwPc3WXvCGwctgGgjAgpdK6x8OAjdVeoks/hBFs="
)

// Options tune a stack.
type Options struct {
	Workflow workflows.Config
	// T, when set, ties the Temporal server's logs to a test.
	T      *testing.T
	Logger *slog.Logger
	// Spans, when set, receives every span of the stack (receiver, client,
	// workflow, activities).
	Spans sdktrace.SpanExporter
	// PayloadKeys, when set, encrypts every payload (IDV_PAYLOAD_KEYS).
	PayloadKeys string
	// NoWorker leaves starting a worker to the test (see Stack.Activities).
	NoWorker bool
	// DatabaseURL replaces the stack's own SQLite file.
	DatabaseURL string
	// Emulator tunes the provider emulator (faults); its credentials are
	// always the stack's.
	Emulator emulator.Config
	// Env adds variables (a provider's further integrations, say) over the
	// stack's own.
	Env map[string]string
	// ProviderTimeout bounds one provider API attempt (default 10s).
	ProviderTimeout time.Duration
}

// Stack is a running idvflow.
type Stack struct {
	Temporal *temporaltest.TestServer
	Emulator *emulator.Emulator
	Users    *userstore.Store
	Receiver *httptest.Server
	Admin    *httptest.Server
	// Telemetry holds the stack's metrics registry and tracer.
	Telemetry *telemetry.Telemetry
	// Activities are what a worker of this stack registers.
	Activities *activities.Activities
	// Workflow is the workflow config a worker of this stack registers.
	Workflow workflows.Config
	// Operator is the operators' actions, as the stack's worker and admin
	// API do them.
	Operator *operator.Operator
	// Target posts webhooks to the receiver as the providers would.
	Target *simulator.Target
	// App stands for the team's app: it receives the notify step's posts.
	App *httptest.Server
	// AppDown makes App answer 503 (an outage of the team's app).
	AppDown atomic.Bool

	dir     string
	closers []func()

	mu            sync.Mutex
	notifications []Notification
}

// Notification is one post of the notify step to the app.
type Notification struct {
	WebhookID string
	Data      activities.Notification
}

// Notifications returns what the app received for userID.
func (s *Stack) Notifications(userID string) []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Notification
	for _, n := range s.notifications {
		if n.Data.UserID == userID {
			out = append(out, n)
		}
	}
	return out
}

// Start starts a stack; Close stops it.
func Start(ctx context.Context, o Options) (*Stack, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "idvflow-teststack-")
	if err != nil {
		return nil, err
	}
	s := &Stack{dir: dir}
	s.Telemetry, err = telemetry.New(ctx, telemetry.Options{Service: "idvflow-test", SpanExporter: o.Spans})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { s.Telemetry.Close(context.Background()) })
	codec, err := temporalconn.Config{PayloadKeys: o.PayloadKeys}.Codec()
	if err != nil {
		s.Close()
		return nil, err
	}
	clientOpts, err := temporalconn.Options(log, s.Telemetry, codec)
	if err != nil {
		s.Close()
		return nil, err
	}
	opts := []temporaltest.TestServerOption{
		temporaltest.WithBaseClientOptions(clientOpts),
		temporaltest.WithBaseWorkerOptions(worker.Options(10 * time.Second)),
	}
	if o.T != nil {
		opts = append(opts, temporaltest.WithT(o.T))
	}
	s.Temporal = temporaltest.NewServer(opts...)
	if o.T == nil { // with a T, temporaltest stops the server at cleanup
		s.closers = append(s.closers, s.Temporal.Stop)
	}
	c := s.Temporal.GetDefaultClient()
	if err := worker.RegisterSearchAttributes(ctx, c, s.Temporal.GetDefaultNamespace()); err != nil {
		s.Close()
		return nil, err
	}

	var emu *httptest.Server
	var vars map[string]string
	s.Emulator, emu, vars, err = StartEmulator(ctx, o.Emulator)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.closers = append(s.closers, emu.Close)

	dbURL := o.DatabaseURL
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(dir, "users.db")
	}
	s.Users, err = userstore.Open(ctx, dbURL)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.closers = append(s.closers, func() { s.Users.Close() })

	s.App = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.AppDown.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var body struct{ Data activities.Notification }
		json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		s.notifications = append(s.notifications, Notification{WebhookID: r.Header.Get("webhook-id"), Data: body.Data})
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	s.closers = append(s.closers, s.App.Close)

	// The worker's and the receiver's configuration come from variables
	// through the production loader, as cmd/worker and cmd/receiver read
	// theirs; the stack only names its own servers.
	maps.Copy(vars, map[string]string{
		"IDV_NOTIFY_URL": s.App.URL, "IDV_NOTIFY_SECRET": NotifySecret,
		"IDV_DATABASE_URL": dbURL, "IDV_TASK_QUEUE": TaskQueue,
	})
	maps.Copy(vars, o.Env)
	env := envconfig.MapLookuper(vars)
	var cfg worker.Config
	var rc receiver.ServerConfig
	if err := errors.Join(envconf.Load(ctx, &cfg, env), envconf.Load(ctx, &rc, env)); err != nil {
		s.Close()
		return nil, err
	}
	if o.ProviderTimeout > 0 {
		cfg.ProviderTimeout = o.ProviderTimeout
	}
	cfg.Workflow = o.Workflow
	s.Activities, s.Workflow = worker.NewActivities(&cfg, s.Users, c, log), cfg.WorkflowConfig()
	s.Operator = worker.NewOperator(&cfg, c, s.Temporal.GetDefaultNamespace(), s.Activities, s.Users, log, s.Telemetry)
	if !o.NoWorker {
		s.StartWorker(10 * time.Second)
	}

	webhooks, err := rc.Providers.Webhooks()
	if err != nil {
		s.Close()
		return nil, err
	}
	rcfg := rc.Receiver
	rcfg.SignalTimeout = 3 * time.Second
	rcv := receiver.New(rcfg, c, log, s.Telemetry, webhooks...)
	if codec != nil {
		rcv = rcv.WithQuarantine(s.Users, codec)
	} else {
		rcv = rcv.WithQuarantine(s.Users, nil)
	}
	// Closers run last first: the server stops, then the queued
	// quarantine copies are written, then the store closes.
	s.closers = append(s.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rcv.Close(ctx)
	})
	s.Receiver = httptest.NewServer(rcv.Handler())
	s.closers = append(s.closers, s.Receiver.Close)
	api := admin.New(s.Users, c, AdminToken, log).WithMetrics(s.Telemetry.MetricsHandler()).WithUserRef(cfg.UserIDs.New()).
		WithOps(admin.Ops{Operator: s.Operator, Store: s.Users, Providers: registry.All(), HandOwed: s.Activities.HandOwed})
	if codec != nil {
		api = api.WithCodec(codec, []string{"http://ui.test"}).WithOpener(codec)
	}
	s.Admin = httptest.NewServer(api.Handler())
	s.closers = append(s.closers, s.Admin.Close)

	s.Target = &simulator.Target{
		ReceiverURL: s.Receiver.URL, EmulatorURL: emu.URL, Namespace: s.Temporal.GetDefaultNamespace(),
		Providers: rc.Providers,
	}
	return s, nil
}

// StartEmulator serves the provider emulator on httptest, answering every
// provider's API for its dev credentials. vars are the providers' dev
// variables with their APIs at it: what points a worker there.
func StartEmulator(ctx context.Context, cfg emulator.Config) (*emulator.Emulator, *httptest.Server, map[string]string, error) {
	e := emulator.New(cfg)
	srv := httptest.NewServer(e.Handler())
	vars := registry.All().DevEnv(srv.URL)
	creds, err := registry.Load(ctx, envconfig.MapLookuper(vars))
	if err != nil {
		srv.Close()
		return nil, nil, nil, err
	}
	creds.Emulate(e)
	return e, srv, vars, nil
}

// StartWorker starts a worker of the stack's workflow and activities.
func (s *Stack) StartWorker(stopTimeout time.Duration) sdkworker.Worker {
	return s.Temporal.NewWorkerWithOptions(TaskQueue, func(r sdkworker.Registry) {
		worker.Register(r, s.Activities, s.Workflow)
		worker.RegisterOperator(r, s.Operator)
	}, worker.Options(stopTimeout))
}

// Close stops everything, newest first, and removes the stack's files.
func (s *Stack) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
	os.RemoveAll(s.dir)
}

// WaitClosed waits until the newest run of workflowID has closed.
func (s *Stack) WaitClosed(ctx context.Context, workflowID string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := s.Temporal.GetDefaultClient().GetWorkflow(ctx, workflowID, "").Get(ctx, nil)
	if ctx.Err() != nil {
		return fmt.Errorf("%s still open after %s", workflowID, limit)
	}
	_ = err // a failed run is closed too; callers inspect the result if they care
	return nil
}

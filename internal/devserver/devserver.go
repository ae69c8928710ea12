// Package devserver embeds a Temporal development server with its Web UI,
// built from the public packages the Temporal CLI's `server start-dev` uses:
// go.temporal.io/server/temporal with the SQLite persistence plugin and
// schema, and github.com/temporalio/ui-server/v2.
//
// It is for development only: one process, one history shard, SQLite.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Options configure the embedded server.
type Options struct {
	// IP to bind (default 127.0.0.1).
	IP string
	// FrontendPort is Temporal's gRPC port (7233 in the CLI's dev server).
	FrontendPort int
	// UIPort is the Web UI's port; 0 means no UI.
	UIPort int
	// DatabaseFile keeps every workflow across restarts; "" is in memory.
	DatabaseFile string
	// Namespace is created on first start with Retention.
	Namespace string
	Retention time.Duration
	// UICodecEndpoint, if set, is the remote codec the UI decodes payloads with.
	UICodecEndpoint string
	// Logger receives the server's warnings and errors.
	Logger *slog.Logger
}

// Server is a running dev server.
type Server struct {
	temporal temporal.Server
	ui       *uiserver.Server
	opts     Options
	stopping *atomic.Bool
}

// FrontendAddr is host:port of Temporal's gRPC frontend.
func (s *Server) FrontendAddr() string {
	return net.JoinHostPort(s.opts.IP, strconv.Itoa(s.opts.FrontendPort))
}

// UIURL is the Web UI's base URL ("" without a UI).
func (s *Server) UIURL() string {
	if s.ui == nil {
		return ""
	}
	return "http://" + net.JoinHostPort(s.opts.IP, strconv.Itoa(s.opts.UIPort))
}

// Start starts Temporal and, with a UIPort, the Web UI.
func Start(opts Options) (*Server, error) {
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.FrontendPort == 0 || opts.Namespace == "" || opts.Logger == nil {
		return nil, errors.New("devserver: FrontendPort, Namespace and Logger are required")
	}
	conf, err := serverConfig(opts)
	if err != nil {
		return nil, err
	}
	stopping := new(atomic.Bool)
	logger := serverLogger{l: opts.Logger.With("component", "temporal-server"), stopping: stopping}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, svc := range conf.Services {
		hosts[primitives.ServiceName(name)] = static.SingleLocalHost(net.JoinHostPort(opts.IP, strconv.Itoa(svc.RPC.GRPCPort)))
	}
	ts, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			// The dev server's usual settings: a larger cache, and enough
			// visibility throughput for the UI and the load tool.
			dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8096,
			dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
			// The worker registers idvflow's search attributes on a fresh
			// server; without these, the first sessions' workflow tasks
			// fail (BadSearchAttributes) until the caches refresh, 10 s
			// later. Both are for dev servers: one process, one SQLite.
			dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
			dynamicconfig.NamespaceCacheRefreshInterval.Key():           time.Second,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: build temporal: %w", err)
	}
	if err := ts.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start temporal: %w", err)
	}
	s := &Server{temporal: ts, opts: opts, stopping: stopping}
	if opts.UIPort != 0 {
		s.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
			Host:                opts.IP,
			Port:                opts.UIPort,
			TemporalGRPCAddress: s.FrontendAddr(),
			EnableUI:            true,
			DefaultNamespace:    opts.Namespace,
			Codec:               uiconfig.Codec{Endpoint: opts.UICodecEndpoint},
			CORS:                uiconfig.CORS{CookieInsecure: true},
			HideLogs:            true,
			DisableNewsFetch:    true, // no internet from a dev machine is fine
		}))
		errc := make(chan error, 1)
		go func() { errc <- s.ui.Start() }()
		// Start blocks while serving; an early return is a failure to listen.
		select {
		case err := <-errc:
			ts.Stop()
			return nil, fmt.Errorf("devserver: start web ui on port %d: %w", opts.UIPort, err)
		case <-time.After(300 * time.Millisecond):
		}
	}
	return s, nil
}

// Stopping tells the server that its clients (the stack's worker and
// receiver) are about to go away: from now on its warnings are expected.
func (s *Server) Stopping() { s.stopping.Store(true) }

// Stop stops the UI and the server.
func (s *Server) Stop() {
	// While its services stop one by one, the server's own clients warn
	// that the others no longer answer: expected, and not worth a screen.
	s.stopping.Store(true)
	if s.ui != nil {
		s.ui.Stop()
	}
	if err := s.temporal.Stop(); err != nil {
		s.opts.Logger.Warn("temporal dev server stop", "error", err)
	}
}

func serverConfig(opts Options) (*config.Config, error) {
	frontendHTTP, err := freePort(opts.IP)
	if err != nil {
		return nil, err
	}
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = opts.IP
	conf.Persistence.DefaultStore = "sqlite-default"
	conf.Persistence.VisibilityStore = "sqlite-default"
	conf.Persistence.NumHistoryShards = 1
	sqlConf, err := sqlConfig(opts)
	if err != nil {
		return nil, err
	}
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite-default": {SQL: sqlConf}}
	frontend := net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort))
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        "active",
		CurrentClusterName:       "active",
		ClusterInformation: map[string]cluster.ClusterInformation{
			"active": {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontend,
				HTTPAddress:            net.JoinHostPort(opts.IP, strconv.Itoa(frontendHTTP)),
				ClusterID:              "6f1f5c2e-6a55-4c1e-9a57-1d2c6b0f0d3e", // fixed: one dev cluster per data dir
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		var svc config.Service
		svc.RPC.BindOnIP = opts.IP
		if name == "frontend" {
			svc.RPC.GRPCPort, svc.RPC.HTTPPort = opts.FrontendPort, frontendHTTP
		} else if svc.RPC.GRPCPort, err = freePort(opts.IP); err != nil {
			return nil, err
		}
		conf.Services[name] = svc
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend
	return &conf, nil
}

// sqlConfig creates the SQLite schema on first start and the namespace if
// it is missing; an existing file keeps all its workflows.
func sqlConfig(opts Options) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if opts.DatabaseFile == "" {
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		conf.DatabaseName = "idvflow-dev-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	} else {
		// WAL lets readers run beside the writer; synchronous=normal syncs at
		// checkpoints, not every commit: a killed process loses nothing, only
		// an OS crash can lose the last commits, which is right for dev.
		conf.ConnectAttributes = map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "normal", "busy_timeout": "10000"}
		conf.MaxConns = 1
		conf.DatabaseName = opts.DatabaseFile
	}
	if opts.DatabaseFile == "" || !exists(opts.DatabaseFile) {
		if opts.DatabaseFile != "" {
			if err := os.MkdirAll(filepath.Dir(opts.DatabaseFile), 0o700); err != nil {
				return nil, fmt.Errorf("devserver: data dir: %w", err)
			}
		}
		if err := sqliteschema.SetupSchema(conf); err != nil {
			return nil, fmt.Errorf("devserver: set up sqlite schema: %w", err)
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig("active", opts.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace config: %w", err)
	}
	if opts.Retention > 0 {
		ns.Detail.Config.Retention = durationpb.New(opts.Retention)
	}
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return nil, fmt.Errorf("devserver: create namespace %s: %w", opts.Namespace, err)
	}
	return conf, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// freePort asks the kernel for a free port for the server's internal
// services.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("devserver: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// serverLogger passes the server's warnings and errors to slog; its info
// and debug lines are noise in a developer's terminal.
type serverLogger struct {
	l        *slog.Logger
	stopping *atomic.Bool // warnings are dropped once the server stops
}

var _ log.Logger = serverLogger{}

func (s serverLogger) Debug(string, ...tag.Tag) {}
func (s serverLogger) Info(string, ...tag.Tag)  {}
func (s serverLogger) Warn(msg string, tags ...tag.Tag) {
	if !s.stopping.Load() {
		s.log(slog.LevelWarn, msg, tags)
	}
}
func (s serverLogger) Error(msg string, tags ...tag.Tag) {
	// The server's metrics interceptor logs this when a client went away
	// mid-call (a stopping worker's long poll): nothing is wrong.
	if msg == "unable to add metrics baggage to gRPC trailer" {
		s.Warn(msg, tags...)
		return
	}
	s.log(slog.LevelError, msg, tags)
}
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }
func (s serverLogger) Panic(msg string, tags ...tag.Tag)  { s.log(slog.LevelError, msg, tags) }
func (s serverLogger) Fatal(msg string, tags ...tag.Tag)  { s.log(slog.LevelError, msg, tags) }

func (s serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	attrs := make([]slog.Attr, len(tags))
	for i, t := range tags {
		attrs[i] = slog.Any(t.Key(), t.Value())
	}
	s.l.LogAttrs(context.Background(), level, msg, attrs...)
}

// Package devstack runs all of idvflow in one process for development: the
// embedded Temporal dev server with its Web UI, the provider emulator, and
// the production receiver and worker (with the admin API), configured by
// dev defaults that every production variable still overrides.
package devstack

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/internal/devserver"
	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/internal/httpserve"
	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/internal/telemetry"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/providers/registry"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/simulator"
	"github.com/idvflow/idvflow/worker"
)

// Options are the ports and data directory; zero ports take the defaults.
type Options struct {
	DataDir      string
	TemporalPort int // 7233
	UIPort       int // 8233
	HTTPPort     int // 8080
	AdminPort    int // 8081
	EmulatorPort int // 8090
	// Env is where production variables are read (nil: the process
	// environment); they override the dev defaults.
	Env    envconfig.Lookuper
	Logger *slog.Logger
}

func (o *Options) defaults() {
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	set(&o.TemporalPort, 7233)
	set(&o.UIPort, 8233)
	set(&o.HTTPPort, 8080)
	set(&o.AdminPort, 8081)
	set(&o.EmulatorPort, 8090)
	if o.Env == nil {
		o.Env = envconfig.OsLookuper()
	}
}

// Stack is a running dev stack.
type Stack struct {
	Temporal    *devserver.Server
	Telemetry   *telemetry.Telemetry
	Emulator    *emulator.Emulator
	Worker      worker.Config
	Receiver    receiver.ServerConfig
	ReceiverURL string
	AdminURL    string
	EmulatorURL string
	UIURL       string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error
}

const ip = "127.0.0.1"

// Namespace is the embedded server's namespace.
const Namespace = "default"

// Target is the stack as a simulator target: webhooks sealed with the
// receiver's own credentials.
func (s *Stack) Target() *simulator.Target {
	return &simulator.Target{ReceiverURL: s.ReceiverURL, EmulatorURL: s.EmulatorURL, UIURL: s.UIURL,
		Namespace: Namespace, Providers: s.Receiver.Providers}
}

func hostPort(port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }

// localURL is the URL on this machine of a server listening on addr: an
// address on every interface is reached on loopback.
func localURL(addr string, https bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = ip, addr
	}
	if a, err := netip.ParseAddr(host); host == "" || (err == nil && a.IsUnspecified()) {
		host = ip
	}
	scheme := "http://"
	if https {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, port)
}

// Start brings the stack up and returns once the receiver and the admin API
// answer. ctx bounds the start; the stack runs until Stop.
func Start(ctx context.Context, o Options) (*Stack, error) {
	o.defaults()
	log := o.Logger
	if err := o.portsFree(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", o.DataDir, err)
	}
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}

	// Dev defaults, under whatever the environment sets.
	emulatorURL := "http://" + hostPort(o.EmulatorPort)
	payloadKey, err := devPayloadKey(dataDir)
	if err != nil {
		return nil, err
	}
	defaults := registry.All().DevEnv(emulatorURL)
	maps.Copy(defaults, map[string]string{
		"IDV_PAYLOAD_KEYS":       payloadKey,
		"IDV_CODEC_CORS_ORIGINS": "http://" + hostPort(o.UIPort) + ",http://localhost:" + strconv.Itoa(o.UIPort),
		// Loopback: the dev secrets are public. IDV_HTTP_ADDR=:8080 opens it.
		"IDV_HTTP_ADDR":    hostPort(o.HTTPPort),
		"IDV_ADMIN_ADDR":   hostPort(o.AdminPort),
		"IDV_DATABASE_URL": "sqlite:" + filepath.Join(dataDir, "users.db"),
	})
	env := envconfig.MultiLookuper(o.Env, envconfig.MapLookuper(defaults))
	s := &Stack{errs: make(chan error, 4), EmulatorURL: emulatorURL}
	if err := envconf.Load(ctx, &s.Worker, env); err != nil {
		return nil, err
	}
	if err := envconf.Load(ctx, &s.Receiver, env); err != nil {
		return nil, err
	}
	// The stack's Temporal is its embedded server, whatever TEMPORAL_* or
	// profile file the shell has for a real cluster.
	embedded := temporalconn.Config{
		PayloadKeys: s.Worker.Temporal.PayloadKeys,
		Env:         temporalconn.EnvMap{"TEMPORAL_ADDRESS": hostPort(o.TemporalPort), "TEMPORAL_NAMESPACE": Namespace},
		DisableFile: true,
	}
	s.Worker.Temporal, s.Receiver.Temporal = embedded, embedded

	// One process, one registry: the admin API's /metrics shows the
	// receiver's, the worker's and the SDK's metrics together.
	s.Receiver.MetricsAddr = ""
	s.Telemetry, err = telemetry.New(ctx, telemetry.Options{Service: "idvflow-dev"})
	if err != nil {
		return nil, err
	}

	s.Temporal, err = devserver.Start(devserver.Options{
		FrontendPort: o.TemporalPort,
		UIPort:       o.UIPort,
		DatabaseFile: filepath.Join(dataDir, "temporal.db"),
		// The UI decodes payloads through the admin API's codec endpoint.
		UICodecEndpoint: "http://" + hostPort(o.AdminPort) + "/codec",
		Namespace:       Namespace,
		// A session runs up to IDV_SESSION_EXPIRY plus the late window; keep
		// closed ones visible for two weeks after that.
		Retention: 14 * 24 * time.Hour,
		Logger:    log,
	})
	if err != nil {
		return nil, err
	}
	s.UIURL = s.Temporal.UIURL()

	// ctx bounds the start only; the stack runs until Stop.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	// The emulator answers with the credentials the worker actually uses.
	s.Emulator = emulator.New(emulator.Config{StateFile: filepath.Join(dataDir, "emulator.json")})
	s.Worker.Providers.Emulate(s.Emulator)
	emuSrv := httpserve.Server(hostPort(o.EmulatorPort), s.Emulator.Handler())
	s.run(func() error { return httpserve.Run(runCtx, emuSrv, log.With("service", "emulator")) })
	s.run(func() error { return worker.Run(runCtx, &s.Worker, log.With("service", "worker"), s.Telemetry) })
	s.run(func() error { return receiver.Run(runCtx, &s.Receiver, log.With("service", "receiver"), s.Telemetry) })

	// Where the receiver really listens: IDV_HTTP_ADDR overrides the flag.
	s.ReceiverURL = localURL(s.Receiver.HTTPAddr, s.Receiver.TLSCertFile != "")
	s.AdminURL = localURL(s.Worker.AdminAddr, s.Worker.AdminTLSCert != "")
	if err := s.waitReady(ctx, 60*time.Second, s.AdminURL+"/healthz", emulatorURL+"/", s.ReceiverURL+"/"); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// devPayloadKey returns the data dir's payload key, made on first start and
// kept, so a restart can still read every payload it wrote.
func devPayloadKey(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "payload-key")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	key := payloadcodec.NewKey("dev-1")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("payload key: %w", err)
	}
	return key, nil
}

// portsFree says which address is taken before anything starts: the
// embedded Temporal server would otherwise fail deep inside its start. It
// checks the addresses the stack will listen on: IDV_HTTP_ADDR and
// IDV_ADMIN_ADDR, when the environment sets them, instead of the ports.
func (o Options) portsFree() error {
	for _, p := range []struct {
		flag, variable string
		port           int
	}{
		{"-temporal-port", "", o.TemporalPort}, {"-ui-port", "", o.UIPort}, {"-http-port", "IDV_HTTP_ADDR", o.HTTPPort},
		{"-admin-port", "IDV_ADMIN_ADDR", o.AdminPort}, {"-emulator-port", "", o.EmulatorPort},
	} {
		addr, how := hostPort(p.port), "choose another with "+p.flag
		if p.variable != "" && o.Env != nil {
			if v, ok := o.Env.Lookup(p.variable); ok && v != "" {
				addr, how = v, "choose another with "+p.variable
			}
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s is in use (another `go run ./cmd/dev`?): stop it, or %s", addr, how)
		}
		l.Close()
	}
	return nil
}

// FreePort returns a free loopback port below the kernel's ephemeral range
// (32768+), so it cannot collide with the ports the embedded Temporal server
// asks the kernel for.
func FreePort() (int, error) {
	for range 200 {
		p := 20000 + rand.IntN(10000)
		if l, err := net.Listen("tcp", hostPort(p)); err == nil {
			l.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port in 20000-29999")
}

func (s *Stack) run(f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil {
			s.errs <- err
		}
	}()
}

// waitReady polls each URL until it answers at all (any status), or a part
// of the stack fails.
func (s *Stack) waitReady(ctx context.Context, limit time.Duration, urls ...string) error {
	deadline := time.Now().Add(limit)
	// Readiness only: the dev receiver's own certificate need not be trusted.
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a loopback readiness probe
	}}
	for _, u := range urls {
		for {
			resp, err := c.Get(u)
			if err == nil {
				resp.Body.Close()
				break
			}
			select {
			case err := <-s.errs:
				return err
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s did not answer within %s", u, limit)
			}
		}
	}
	return nil
}

// Err returns a channel that yields the error of a part that stopped.
func (s *Stack) Err() <-chan error { return s.errs }

// Stop stops the receiver, worker and emulator, then Temporal.
func (s *Stack) Stop() {
	if s.Temporal != nil {
		s.Temporal.Stopping()
	}
	if s.cancel != nil {
		s.cancel()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "devstack: parts did not stop within 30s")
	}
	if s.Temporal != nil {
		s.Temporal.Stop()
	}
	if s.Telemetry != nil {
		_ = s.Telemetry.Close(context.Background())
	}
}

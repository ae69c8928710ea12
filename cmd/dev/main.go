// Command dev runs all of idvflow on one machine with nothing installed but
// Go: an embedded Temporal dev server with its Web UI, the provider
// emulator, the receiver, the worker and the admin API. State is kept under
// the data directory, so a restart keeps every workflow and user.
//
//	go run ./cmd/dev
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/idvflow/idvflow/devstack"
	"github.com/idvflow/idvflow/internal/logging"
	"github.com/idvflow/idvflow/internal/version"
	"github.com/idvflow/idvflow/providers/registry"
)

func main() {
	version.ExitIfAsked("dev")
	dataDir := os.Getenv("IDV_DEV_DATA_DIR")
	if dataDir == "" {
		dataDir = ".idvflow"
	}
	var o devstack.Options
	flag.StringVar(&o.DataDir, "data-dir", dataDir, "where Temporal, the user store and the emulator keep their state (env IDV_DEV_DATA_DIR)")
	flag.IntVar(&o.TemporalPort, "temporal-port", 7233, "Temporal frontend (gRPC) port")
	flag.IntVar(&o.UIPort, "ui-port", 8233, "Temporal Web UI port")
	flag.IntVar(&o.HTTPPort, "http-port", 8080, "webhook receiver port")
	flag.IntVar(&o.AdminPort, "admin-port", 8081, "admin API port (loopback)")
	flag.IntVar(&o.EmulatorPort, "emulator-port", 8090, "provider API emulator port (loopback)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gin.SetMode(gin.ReleaseMode)
	var logCfg logging.Config
	logCfg.Format, logCfg.Level = envOr("IDV_LOG_FORMAT", "text"), envOr("IDV_LOG_LEVEL", "info")
	o.Logger = logging.New(logCfg, os.Stderr)

	s, err := devstack.Start(ctx, o)
	if err != nil && ctx.Err() != nil {
		// Ctrl-C while starting: a stop, not a failure.
		fmt.Fprintln(os.Stderr, "idvflow dev stack stopped before it was up")
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
	banner(os.Stdout, s, o)
	select {
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "\nstopping…")
	case err := <-s.Err():
		fmt.Fprintln(os.Stderr, "dev: a part stopped:", err)
	}
	s.Stop()
	fmt.Fprintln(os.Stderr, "idvflow dev stack stopped; sessions resume on the next start")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func banner(w io.Writer, s *devstack.Stack, o devstack.Options) {
	var hooks, secrets strings.Builder
	for _, p := range registry.All() {
		fmt.Fprintf(&hooks, "   %s/webhooks/%s", s.ReceiverURL, p.Name())
		env := p.DevEnv(s.EmulatorURL)
		for _, k := range slices.Sorted(maps.Keys(env)) {
			if !strings.HasSuffix(k, "_BASE_URL") {
				fmt.Fprintf(&secrets, "    %s=%s\n", k, devOnly(k, env[k]))
			}
		}
	}
	fmt.Fprintf(w, `
idvflow dev stack is up  (data in %s; Ctrl-C stops everything)

  Temporal frontend   %s   (namespace %s)
  Temporal Web UI     %s
  Webhook receiver%s
  Admin API           %s/v1/users/{id}   /v1/sessions/{provider}/{id}   /readyz
  Provider emulator   %s   (each provider's API, as the worker calls it)

  DEV-ONLY SECRETS (public test values; never use them in production):
%s  Payload key (IDV_PAYLOAD_KEYS; every worker and receiver on this
  Temporal needs the same): %s

  Try:  go run ./cmd/simulate veriff --outcome approved
        go run ./cmd/simulate passbase --outcome declined --order decision-first

`, o.DataDir, s.Temporal.FrontendAddr(), devstack.Namespace, s.UIURL, hooks.String(), s.AdminURL, s.EmulatorURL,
		secrets.String(), payloadKeySource(o.DataDir))
}

// payloadKeySource says where the dev stack's payload key is, never the key.
func payloadKeySource(dataDir string) string {
	if os.Getenv("IDV_PAYLOAD_KEYS") != "" {
		return "from the environment"
	}
	return "in " + filepath.Join(dataDir, "payload-key")
}

// devOnly shows the public dev default of a variable the environment
// does not set: a secret set in the environment is never printed.
func devOnly(name, devDefault string) string {
	if v, set := os.LookupEnv(name); set && v != devDefault {
		return "(set from the environment; not shown)"
	}
	return devDefault
}

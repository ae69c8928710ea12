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
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/veriff"

	"github.com/gin-gonic/gin"

	"github.com/idvflow/idvflow/internal/devcreds"
	"github.com/idvflow/idvflow/internal/devstack"
	"github.com/idvflow/idvflow/internal/logging"
)

func main() {
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
	vc := s.Worker.Providers.Get(veriff.Name).(*veriff.Config)
	pc := s.Worker.Providers.Get(passbase.Name).(*passbase.Config)
	fmt.Fprintf(w, `
idvflow dev stack is up  (data in %s; Ctrl-C stops everything)

  Temporal frontend   %s   (namespace %s)
  Temporal Web UI     %s
  Webhook receiver    %s/webhooks/veriff   %s/webhooks/passbase
  Admin API           %s/v1/users/{id}   /v1/sessions/{provider}/{id}   /readyz
  Provider emulator   %s   (Passbase /verification/v2, Veriff /v1)

  DEV-ONLY SECRETS (public test values; never use them in production):
    VERIFF_API_KEY=%s
    VERIFF_SHARED_SECRETS=%s
    PASSBASE_WEBHOOK_SECRETS=%s
    PASSBASE_API_KEY=%s
  Payload key (IDV_PAYLOAD_KEYS; every worker and receiver on this
  Temporal needs the same): %s

  Try:  go run ./cmd/simulate veriff --outcome approved
        go run ./cmd/simulate passbase --outcome declined --order decision-first

`, o.DataDir, s.Temporal.FrontendAddr(), devcreds.Namespace, s.UIURL,
		s.ReceiverURL, s.ReceiverURL, s.AdminURL, s.EmulatorURL,
		devOnly(vc.APIKey, devcreds.VeriffAPIKey),
		devOnly(firstOf(vc.SharedSecrets), devcreds.VeriffSharedSecret),
		devOnly(firstOf(pc.WebhookSecrets), devcreds.PassbaseWebhookSecret),
		devOnly(pc.APIKey, devcreds.PassbaseAPIKey),
		payloadKeySource(o.DataDir))
}

// payloadKeySource says where the dev stack's payload key is, never the key.
func payloadKeySource(dataDir string) string {
	if os.Getenv("IDV_PAYLOAD_KEYS") != "" {
		return "from the environment"
	}
	return "in " + filepath.Join(dataDir, "payload-key")
}

// devOnly shows a value only if it is the public dev default: a secret set
// in the environment is never printed.
func devOnly(value, devDefault string) string {
	if value == devDefault {
		return value
	}
	return "(set from the environment; not shown)"
}

func firstOf(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}

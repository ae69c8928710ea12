// Package cli is the body shared by the production binaries' mains: the
// "healthcheck" command, -version, configuration from the environment, the logger,
// and a context that ends on SIGINT or SIGTERM.
package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/internal/healthcheck"
	"github.com/idvflow/idvflow/internal/logging"
	"github.com/idvflow/idvflow/internal/telemetry"
	"github.com/idvflow/idvflow/internal/version"
)

// Binary describes one production binary.
type Binary[C any] struct {
	// Name appears in errors and on every log line ("service").
	Name string
	// HealthAddrVar and HealthAddrDefault locate the /healthz the
	// "healthcheck" command probes.
	HealthAddrVar, HealthAddrDefault string
	// HealthTLSVar names the variable that, when set, means the server
	// serves HTTPS (the receiver's IDV_TLS_CERT_FILE).
	HealthTLSVar string
	// Log returns the logging part of the loaded config.
	Log func(*C) logging.Config
	// Run runs the service until ctx ends.
	Run func(ctx context.Context, cfg *C, log *slog.Logger, tel *telemetry.Telemetry) error
}

// Main runs b with os.Args and exits: 2 for bad configuration, 1 for a
// failure while running.
func (b Binary[C]) Main() {
	version.ExitIfAsked(b.Name)
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		addr := os.Getenv(b.HealthAddrVar)
		if addr == "" {
			addr = b.HealthAddrDefault
		}
		os.Exit(healthcheck.Run(addr, b.HealthTLSVar != "" && os.Getenv(b.HealthTLSVar) != ""))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cfg C
	if err := envconf.Load(ctx, &cfg, nil); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", b.Name, err)
		os.Exit(2)
	}
	gin.SetMode(gin.ReleaseMode)
	log := logging.New(b.Log(&cfg), os.Stderr).With("service", b.Name)
	tel, err := telemetry.New(ctx, telemetry.Options{Service: "idvflow-" + b.Name})
	if err != nil {
		log.Error("telemetry", "error", err)
		os.Exit(1)
	}
	err = b.Run(ctx, &cfg, log, tel)
	flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = tel.Close(flush)
	if err != nil {
		log.Error(b.Name+" stopped", "error", err)
		stop()
		os.Exit(1)
	}
}

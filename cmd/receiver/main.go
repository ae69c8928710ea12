// Command receiver serves the provider webhooks and signals each session's
// workflow in Temporal. Configuration comes from the environment; see the
// README for every variable. "receiver healthcheck" probes a running one.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/internal/healthcheck"
	"github.com/idvflow/idvflow/internal/logging"
	"github.com/idvflow/idvflow/receiver"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		addr := os.Getenv("IDV_HTTP_ADDR")
		if addr == "" {
			addr = ":8080"
		}
		os.Exit(healthcheck.Run(addr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cfg receiver.ServerConfig
	if err := envconf.Load(ctx, &cfg, nil); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(2)
	}
	gin.SetMode(gin.ReleaseMode)
	log := logging.New(cfg.Log, os.Stderr).With("service", "receiver")
	if err := receiver.Run(ctx, &cfg, log); err != nil {
		log.Error("receiver stopped", "error", err)
		os.Exit(1)
	}
}

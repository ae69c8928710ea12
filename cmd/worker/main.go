// Command worker runs the verification workflows and activities, and serves
// the admin API. Configuration comes from the environment; see the README
// for every variable. "worker healthcheck" probes a running one.
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
	"github.com/idvflow/idvflow/worker"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		addr := os.Getenv("IDV_ADMIN_ADDR")
		if addr == "" {
			addr = "127.0.0.1:8081"
		}
		os.Exit(healthcheck.Run(addr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cfg worker.Config
	if err := envconf.Load(ctx, &cfg, nil); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	gin.SetMode(gin.ReleaseMode)
	log := logging.New(cfg.Log, os.Stderr).With("service", "worker")
	if err := worker.Run(ctx, &cfg, log); err != nil {
		log.Error("worker stopped", "error", err)
		os.Exit(1)
	}
}

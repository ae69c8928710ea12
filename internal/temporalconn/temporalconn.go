// Package temporalconn connects the binaries to Temporal.
package temporalconn

import (
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// Config names the Temporal frontend and namespace.
type Config struct {
	Address   string `env:"TEMPORAL_ADDRESS, default=localhost:7233"`
	Namespace string `env:"TEMPORAL_NAMESPACE, default=default"`
}

// Lazy returns a client that connects on first use, so a binary starts (and
// answers 503 rather than not at all) while Temporal is still down.
func Lazy(cfg Config, logger *slog.Logger) (client.Client, error) {
	c, err := client.NewLazyClient(options(cfg, logger))
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", cfg.Address, err)
	}
	return c, nil
}

func options(cfg Config, logger *slog.Logger) client.Options {
	return client.Options{
		HostPort:  cfg.Address,
		Namespace: cfg.Namespace,
		Logger:    tlog.NewStructuredLogger(logger.With("component", "temporal-sdk")),
	}
}

// Package temporalconn connects the binaries to Temporal.
package temporalconn

import (
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"

	"github.com/idvflow/idvflow/internal/telemetry"
)

// Config names the Temporal frontend and namespace.
type Config struct {
	Address   string `env:"TEMPORAL_ADDRESS, default=localhost:7233"`
	Namespace string `env:"TEMPORAL_NAMESPACE, default=default"`
}

// Lazy returns a client that connects on first use, so a binary starts (and
// answers 503 rather than not at all) while Temporal is still down.
func Lazy(cfg Config, logger *slog.Logger, tel *telemetry.Telemetry) (client.Client, error) {
	opts, err := Options(logger, tel)
	if err != nil {
		return nil, err
	}
	opts.HostPort, opts.Namespace = cfg.Address, cfg.Namespace
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", cfg.Address, err)
	}
	return c, nil
}

// Options are the client options every idvflow client shares: the SDK logs
// through slog, reports its metrics to tel's registry, and carries the
// trace context from the webhook request into workflows and activities
// (workers built on the client inherit the interceptor).
func Options(logger *slog.Logger, tel *telemetry.Telemetry) (client.Options, error) {
	opts := client.Options{Logger: tlog.NewStructuredLogger(logger.With("component", "temporal-sdk"))}
	if tel == nil {
		return opts, nil
	}
	tracing, err := opentelemetry.NewTracingInterceptor(opentelemetry.TracerOptions{
		Tracer:            tel.Tracer.Tracer("go.temporal.io/sdk"),
		TextMapPropagator: tel.Propagator,
	})
	if err != nil {
		return opts, fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	opts.MetricsHandler = tel.SDK
	opts.Interceptors = []interceptor.ClientInterceptor{tracing}
	return opts, nil
}

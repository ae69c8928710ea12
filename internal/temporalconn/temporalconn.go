// Package temporalconn connects the binaries to Temporal.
package temporalconn

import (
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"

	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/internal/telemetry"
)

// Config names the Temporal frontend and namespace, and the keys that
// encrypt every payload idvflow writes to Temporal.
type Config struct {
	Address   string `env:"TEMPORAL_ADDRESS, default=localhost:7233"`
	Namespace string `env:"TEMPORAL_NAMESPACE, default=default"`
	// PayloadKeys is "id:base64key,…" (32-byte keys, the first current);
	// empty leaves payloads in plain JSON.
	PayloadKeys string `env:"IDV_PAYLOAD_KEYS"`
}

// Codec is the payload codec PayloadKeys describe, or nil without keys.
func (c Config) Codec() (*payloadcodec.Codec, error) {
	if c.PayloadKeys == "" {
		return nil, nil
	}
	return payloadcodec.ParseKeys(c.PayloadKeys)
}

// Lazy returns a client that connects on first use, so a binary starts (and
// answers 503 rather than not at all) while Temporal is still down.
func Lazy(cfg Config, logger *slog.Logger, tel *telemetry.Telemetry) (client.Client, error) {
	codec, err := cfg.Codec()
	if err != nil {
		return nil, err
	}
	opts, err := Options(logger, tel, codec)
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

// Options are the client options every idvflow client shares: payloads
// encrypted by codec (when given), the SDK's logs through slog, its metrics
// into tel's registry, and the trace context carried from the webhook
// request into workflows and activities (workers built on the client
// inherit the interceptor).
func Options(logger *slog.Logger, tel *telemetry.Telemetry, codec *payloadcodec.Codec) (client.Options, error) {
	opts := client.Options{Logger: tlog.NewStructuredLogger(logger.With("component", "temporal-sdk"))}
	var dc converter.DataConverter
	if codec != nil {
		dc = codec.DataConverter()
	}
	opts.DataConverter = Guarded(dc)
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

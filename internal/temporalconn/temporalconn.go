// Package temporalconn connects the binaries to Temporal.
//
// Where Temporal is and how to authenticate to it come from the standard
// TEMPORAL_* variables and the TOML profile file, read by the SDK's own
// loader (go.temporal.io/sdk/contrib/envconfig), so an address, namespace,
// API key or client certificate works here exactly as in the Temporal CLI
// and the other SDKs. idvflow's own options (payload codec, logger,
// metrics, tracing) are layered on top.
package temporalconn

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"

	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/internal/telemetry"
)

// Defaults where neither the profile file nor the environment names them,
// as in the Temporal CLI.
const (
	DefaultAddress   = "localhost:7233"
	DefaultNamespace = "default"
)

// Config is idvflow's part of the connection: the keys that encrypt every
// payload it writes to Temporal, and where the standard variables are read.
type Config struct {
	// PayloadKeys is "id:base64key,…" (32-byte keys, the first current);
	// empty leaves payloads in plain JSON.
	PayloadKeys string `env:"IDV_PAYLOAD_KEYS"`

	// Env is where the TEMPORAL_* variables are read (nil: the process
	// environment). The embedded dev stack sets it to its own server.
	Env envconfig.EnvLookup
	// DisableFile ignores the profile file (TEMPORAL_CONFIG_FILE, or
	// temporalio/temporal.toml in the user's config directory).
	DisableFile bool
}

// EnvMap is a fixed set of variables (no process environment), for a stack
// that names its own Temporal.
type EnvMap map[string]string

func (m EnvMap) LookupEnv(key string) (string, bool) { v, ok := m[key]; return v, ok }

func (m EnvMap) Environ() []string {
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	return env
}

// Codec is the payload codec PayloadKeys describe, or nil without keys.
func (c Config) Codec() (*payloadcodec.Codec, error) {
	if c.PayloadKeys == "" {
		return nil, nil
	}
	return payloadcodec.ParseKeys(c.PayloadKeys)
}

// Validate implements envconf.Validator: the profile and the variables
// load, and every file they name can be read, each problem named by the
// variable (or profile file) that caused it.
func (c Config) Validate() []error {
	var errs []error
	if _, err := c.Codec(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Connection(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// Connection returns the client options the profile file and the TEMPORAL_*
// variables describe (address, namespace, TLS, API key, gRPC metadata),
// with the defaults filled in. A client certificate read from files is
// re-read when the files change, so certificates rotate without a restart.
func (c Config) Connection() (client.Options, error) {
	env := c.Env
	if env == nil {
		env = envconfig.EnvLookupOS
	}
	prof, err := envconfig.LoadClientConfigProfile(envconfig.LoadClientConfigProfileOptions{
		DisableFile: c.DisableFile,
		EnvLookup:   env,
	})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE): %w", err)
	}
	if err := checkFiles(prof.TLS, env); err != nil {
		return client.Options{}, err
	}
	opts, err := prof.ToClientOptions(envconfig.ToClientOptionsRequest{})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal TLS (TEMPORAL_TLS_*): %w", err)
	}
	if opts.HostPort == "" {
		opts.HostPort = DefaultAddress
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if t := prof.TLS; t != nil && !t.Disabled && t.ClientCertPath != "" && opts.ConnectionOptions.TLS != nil {
		r, err := newCertReloader(t.ClientCertPath, t.ClientKeyPath)
		if err != nil {
			return client.Options{}, err
		}
		opts.ConnectionOptions.TLS.Certificates = nil
		opts.ConnectionOptions.TLS.GetClientCertificate = r.get
	}
	return opts, nil
}

// checkFiles names the variable behind a file that cannot be read; the
// SDK's loader reports only the file.
func checkFiles(t *envconfig.ClientConfigTLS, env envconfig.EnvLookup) error {
	if t == nil || t.Disabled {
		return nil
	}
	var errs []error
	for _, f := range []struct{ name, path string }{
		{"TEMPORAL_TLS_CLIENT_CERT_PATH", t.ClientCertPath},
		{"TEMPORAL_TLS_CLIENT_KEY_PATH", t.ClientKeyPath},
		{"TEMPORAL_TLS_SERVER_CA_CERT_PATH", t.ServerCACertPath},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			if _, set := env.LookupEnv(f.name); !set {
				f.name += " (from the profile file)"
			}
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
		}
	}
	return errors.Join(errs...)
}

// Lazy returns a client that connects on first use, so a binary starts (and
// answers 503 rather than not at all) while Temporal is still down.
func Lazy(cfg Config, logger *slog.Logger, tel *telemetry.Telemetry) (client.Client, error) {
	conn, err := cfg.Connection()
	if err != nil {
		return nil, err
	}
	codec, err := cfg.Codec()
	if err != nil {
		return nil, err
	}
	opts, err := Options(logger, tel, codec)
	if err != nil {
		return nil, err
	}
	opts.HostPort, opts.Namespace = conn.HostPort, conn.Namespace
	opts.Credentials, opts.HeadersProvider = conn.Credentials, conn.HeadersProvider
	opts.ConnectionOptions = conn.ConnectionOptions
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", conn.HostPort, err)
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

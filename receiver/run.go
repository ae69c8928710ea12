package receiver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/activities/userstore"
	_ "github.com/idvflow/idvflow/activities/userstore/drivers" // the quarantine's SQL drivers
	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/internal/httpserve"
	"github.com/idvflow/idvflow/internal/logging"
	"github.com/idvflow/idvflow/internal/telemetry"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/internal/userref"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/providers/registry"
)

// ServerConfig is everything cmd/receiver reads from the environment.
type ServerConfig struct {
	HTTPAddr string `env:"IDV_HTTP_ADDR, default=:8080"`
	// MetricsAddr serves /metrics (Prometheus); empty turns it off.
	MetricsAddr string `env:"IDV_METRICS_ADDR, default=127.0.0.1:8082"`
	// ReadTimeout ends a request whose body drips in too slowly.
	ReadTimeout time.Duration `env:"IDV_HTTP_READ_TIMEOUT, default=10s"`
	Receiver    Config
	Temporal    temporalconn.Config
	// UserIDs says how user ids appear in visibility; the worker's must match.
	UserIDs userref.Config

	// Providers is each registered provider's variables (providers/registry).
	Providers providers.Configs

	// DatabaseURL is the user store's database, where the receiver keeps
	// the authentic webhooks it refuses (the quarantine); empty: they are
	// only logged and counted.
	DatabaseURL string `env:"IDV_DATABASE_URL"`
	Quarantine  QuarantineConfig

	// The proxies whose X-Forwarded-For is believed (for the providers'
	// source allowlists, *_ALLOWED_CIDRS).
	TrustedProxies []string `env:"IDV_TRUSTED_PROXIES"`

	// Built-in HTTPS when both are set (some providers call only HTTPS URLs).
	TLSCertFile string `env:"IDV_TLS_CERT_FILE"`
	TLSKeyFile  string `env:"IDV_TLS_KEY_FILE"`

	Log logging.Config
}

// Expand implements envconf.Expander: it reads every registered provider's
// variables.
func (c *ServerConfig) Expand(ctx context.Context, lookup envconfig.Lookuper) []error {
	var errs []error
	c.Providers, errs = providers.Load(ctx, registry.All(), lookup)
	return errs
}

// Validate implements envconf.Validator.
func (c *ServerConfig) Validate() []error {
	errs := c.Log.Validate()
	errs = append(errs, envconf.Required("IDV_HTTP_ADDR", c.HTTPAddr, "IDV_TASK_QUEUE", c.Receiver.TaskQueue)...)
	if c.Receiver.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("IDV_MAX_BODY_BYTES must be positive"))
	}
	if c.Receiver.SignalTimeout <= 0 || c.Receiver.SignalTimeout > 4500*time.Millisecond {
		errs = append(errs, errors.New("IDV_SIGNAL_TIMEOUT must be positive and at most 4.5s (Veriff waits 5s for an answer)"))
	}
	if c.Receiver.MaxInFlightBytes < 0 || c.Receiver.MinBodyRate < 0 {
		errs = append(errs, errors.New("IDV_MAX_IN_FLIGHT_BYTES and IDV_MIN_BODY_RATE must not be negative (0: no bound)"))
	}
	if c.Receiver.MinBodyRate > 0 && c.Receiver.BodyGrace <= 0 {
		errs = append(errs, errors.New("IDV_BODY_GRACE must be positive with IDV_MIN_BODY_RATE set (no sender's first bytes arrive at once)"))
	}
	errs = append(errs, c.Providers.Validate()...)
	webhooks, err := c.Providers.Webhooks()
	if err != nil {
		errs = append(errs, err)
	}
	// Each provider reads from its own share: the largest body must fit.
	if n := int64(len(webhooks)); c.Receiver.MaxInFlightBytes > 0 && n > 0 && c.Receiver.MaxInFlightBytes/n <= c.Receiver.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("IDV_MAX_IN_FLIGHT_BYTES (%d) is shared by %d providers: each share must be over IDV_MAX_BODY_BYTES (%d)",
			c.Receiver.MaxInFlightBytes, n, c.Receiver.MaxBodyBytes))
	}
	if c.Receiver.RetryAfter < time.Second {
		errs = append(errs, errors.New("IDV_RETRY_AFTER must be at least 1s"))
	}
	errs = append(errs, c.Temporal.Validate()...)
	if uerrs := c.UserIDs.Validate(); len(uerrs) > 0 {
		errs = append(errs, uerrs...)
	} else {
		c.Receiver.UserRef = c.UserIDs.New()
	}
	if err := c.network(); err != nil {
		errs = append(errs, err)
	}
	if c.Quarantine.MaxItems < 0 || c.Quarantine.MaxAge < 0 {
		errs = append(errs, errors.New("IDV_QUARANTINE_MAX_ITEMS and IDV_QUARANTINE_MAX_AGE must not be negative (0: no bound)"))
	}
	c.Receiver.Quarantine = userstore.QuarantineLimits{MaxItems: c.Quarantine.MaxItems, MaxAge: c.Quarantine.MaxAge}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("IDV_TLS_CERT_FILE and IDV_TLS_KEY_FILE go together: set both or neither"))
	}
	return errs
}

// network parses the allowlists and trusted proxies into c.Receiver.
func (c *ServerConfig) network() error {
	var errs []error
	parse := func(name string, list []string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range list {
			s = strings.TrimSpace(s)
			if !strings.Contains(s, "/") {
				if a, err := netip.ParseAddr(s); err == nil {
					s = netip.PrefixFrom(a, a.BitLen()).String()
				}
			}
			p, err := netip.ParsePrefix(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a CIDR", name, s))
				continue
			}
			out = append(out, p.Masked())
		}
		return out
	}
	c.Receiver.Allowed = map[string][]netip.Prefix{}
	for _, name := range c.Providers.Names() {
		c.Receiver.Allowed[name] = parse(c.Providers.Get(name).AllowedCIDRs())
	}
	c.Receiver.TrustedProxies = parse("IDV_TRUSTED_PROXIES", c.TrustedProxies)
	return errors.Join(errs...)
}

// Run is cmd/receiver: it serves webhooks (and /metrics on MetricsAddr)
// until ctx is cancelled, then finishes the requests in flight.
func Run(ctx context.Context, cfg *ServerConfig, log *slog.Logger, tel *telemetry.Telemetry) error {
	webhooks, err := cfg.Providers.Webhooks()
	if err != nil {
		return err
	}
	if !loopback(cfg.HTTPAddr) { // on loopback only this machine can send
		for _, w := range cfg.Providers.Warnings() {
			log.Warn(w)
		}
	}
	tc, err := temporalconn.Lazy(cfg.Temporal, log, tel)
	if err != nil {
		return err
	}
	defer tc.Close()
	if err := cfg.network(); err != nil {
		return err
	}
	cfg.Receiver.ReadTimeout = cfg.ReadTimeout // the minimum rate never extends it
	rcv := New(cfg.Receiver, tc, log, tel, webhooks...)
	if cfg.DatabaseURL == "" {
		log.Warn("IDV_DATABASE_URL not set: webhooks refused after authentication are logged and counted, not quarantined")
	} else {
		// The workers own the schema; until one has migrated it, keeping a
		// webhook fails (counted as such) and the answer is the same.
		q, err := userstore.Connect(cfg.DatabaseURL)
		if err != nil {
			return err
		}
		defer q.Close()
		codec, _ := cfg.Temporal.Codec() // checked by Validate
		if codec == nil {
			log.Warn("IDV_PAYLOAD_KEYS not set: quarantined webhooks are kept without their bodies")
			rcv = rcv.WithQuarantine(q, nil)
		} else {
			rcv = rcv.WithQuarantine(q, codec)
		}
		// After the server has stopped, before the database closes: the
		// copies still queued are written.
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			rcv.Close(ctx)
		}()
	}
	srv := NewHTTPServer(cfg.HTTPAddr, cfg.ReadTimeout, rcv.Handler())
	serve := func(ctx context.Context) error {
		if cfg.TLSCertFile != "" {
			return httpserve.RunTLS(ctx, srv, cfg.TLSCertFile, cfg.TLSKeyFile, log)
		}
		return httpserve.Run(ctx, srv, log)
	}
	if cfg.MetricsAddr == "" || tel == nil {
		return serve(ctx)
	}
	metrics := http.NewServeMux()
	metrics.Handle("GET /metrics", tel.MetricsHandler())
	msrv := httpserve.Server(cfg.MetricsAddr, metrics)
	// Either server failing stops the other.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- httpserve.Run(ctx, msrv, log) }()
	go func() { errc <- serve(ctx) }()
	first := <-errc
	cancel()
	return errors.Join(first, <-errc)
}

// NewHTTPServer returns the webhook server with timeouts that bound a slow
// or stalled sender.
func NewHTTPServer(addr string, readTimeout time.Duration, h http.Handler) *http.Server {
	return &http.Server{
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      readTimeout + 10*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// loopback reports whether addr listens on a loopback address only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

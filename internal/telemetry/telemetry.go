// Package telemetry is what one idvflow process reports: Prometheus metrics
// (its own counters and the Temporal SDK's, through tally, in one registry)
// and OpenTelemetry traces (exported over OTLP when the standard OTEL_*
// variables ask for it).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// Telemetry holds one process's metrics and tracer.
type Telemetry struct {
	Registry *prometheus.Registry
	// Webhooks counts webhooks by provider, type and outcome.
	Webhooks *prometheus.CounterVec
	// AckSeconds is the time from request to answer, by provider and outcome.
	AckSeconds *prometheus.HistogramVec
	// Refused counts webhooks refused before authentication for what
	// they would hold, by provider and reason (body_budget, in_flight,
	// too_slow).
	Refused *prometheus.CounterVec
	// BodyBytes is the bytes of webhook bodies held now, by provider (its
	// share of IDV_MAX_IN_FLIGHT_BYTES in use).
	BodyBytes *prometheus.GaugeVec
	// BodiesReading is the webhook bodies being received now, by provider.
	BodiesReading *prometheus.GaugeVec
	// Quarantined counts authentic webhooks refused after authentication,
	// by provider and whether the quarantine kept them (kept, failed, off).
	Quarantined *prometheus.CounterVec
	// OperatorActions counts operator actions by action and outcome.
	OperatorActions *prometheus.CounterVec
	// SDK is the Temporal SDK's metrics handler: client, worker, and the
	// workflow's and activities' own metrics land in Registry through it.
	SDK client.MetricsHandler
	// Tracer provides the receiver's and Temporal's spans; a no-op unless
	// tracing is configured.
	Tracer     trace.TracerProvider
	Propagator propagation.TextMapPropagator

	closers []func(context.Context) error
}

// Options tune New.
type Options struct {
	// Service names the process in traces ("idvflow-receiver").
	Service string
	// SpanExporter, if set, receives every span (tests use an in-memory
	// one); otherwise OTLP is used when OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, and nothing otherwise.
	SpanExporter sdktrace.SpanExporter
}

// New builds the registry, the SDK's metrics handler and the tracer.
// sanitize is the SDK's Prometheus naming, but label values keep the
// characters Prometheus allows in them: the task queue "idv-verification"
// is not rewritten to "idv_verification".
var sanitize = func() tally.SanitizeOptions {
	o := sdktally.PrometheusSanitizeOptions
	o.ValueCharacters = tally.ValidCharacters{Ranges: tally.AlphanumericRange, Characters: []rune{'_', '-', '.', ':', '/'}}
	return o
}()

func New(ctx context.Context, o Options) (*Telemetry, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	t := &Telemetry{
		Registry: reg,
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idv_webhooks_total",
			Help: "Webhooks received, by provider, webhook type and outcome (accepted, ignored, unauthenticated, malformed, too_large, too_slow, unavailable, overloaded).",
		}, []string{"provider", "type", "outcome"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idv_webhooks_refused_total",
			Help: "Webhooks refused before authentication for what they would hold, by provider and reason (body_budget: the provider's share of IDV_MAX_IN_FLIGHT_BYTES in use; in_flight: IDV_MAX_IN_FLIGHT webhooks being served; too_slow: the body came slower than IDV_MIN_BODY_RATE or not within IDV_HTTP_READ_TIMEOUT).",
		}, []string{"provider", "reason"}),
		BodyBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "idv_webhook_body_bytes",
			Help: "Bytes of webhook bodies held now, by provider (its share of IDV_MAX_IN_FLIGHT_BYTES in use).",
		}, []string{"provider"}),
		BodiesReading: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "idv_webhook_bodies_reading",
			Help: "Webhook bodies being received now, by provider.",
		}, []string{"provider"}),
		AckSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "idv_webhook_ack_seconds",
			Help:    "Time from receiving a webhook to answering it, by provider and outcome.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"provider", "outcome"}),
		Quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idv_quarantined_total",
			Help: "Authentic webhooks refused after authentication, by provider and result (kept: in the quarantine; failed: the store could not keep it; off: no quarantine configured).",
		}, []string{"provider", "result"}),
		OperatorActions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idv_operator_actions_total",
			Help: "Operator actions (resync, retry, redrive, bulk operations), by action and outcome.",
		}, []string{"action", "outcome"}),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	reg.MustRegister(t.Webhooks, t.Refused, t.BodyBytes, t.BodiesReading, t.AckSeconds, t.Quarantined, t.OperatorActions)

	reporter := tallyprom.NewReporter(tallyprom.Options{Registerer: reg, Gatherer: reg})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sanitize,
	}, time.Second)
	t.SDK = sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope))
	t.closers = append(t.closers, func(context.Context) error { return closer.Close() })

	if err := t.tracing(ctx, o); err != nil {
		t.Close(ctx)
		return nil, err
	}
	return t, nil
}

func (t *Telemetry) tracing(ctx context.Context, o Options) error {
	exp := o.SpanExporter
	if exp == nil && (os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "") {
		// The exporter reads the standard OTEL_EXPORTER_OTLP_* variables.
		e, err := otlptracegrpc.New(ctx)
		if err != nil {
			return fmt.Errorf("otlp trace exporter: %w", err)
		}
		exp = e
	}
	if exp == nil {
		t.Tracer = noop.NewTracerProvider()
		return nil
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(o.Service)))
	if err != nil {
		res = resource.Default()
	}
	// An in-memory exporter (tests) is synchronous so spans are there at once.
	var proc sdktrace.SpanProcessor = sdktrace.NewBatchSpanProcessor(exp)
	if o.SpanExporter != nil {
		proc = sdktrace.NewSimpleSpanProcessor(exp)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(proc), sdktrace.WithResource(res))
	t.Tracer = tp
	t.closers = append(t.closers, tp.Shutdown)
	return nil
}

// MetricsHandler serves the registry for Prometheus.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.Registry, promhttp.HandlerOpts{Registry: t.Registry})
}

// Close flushes and stops the SDK metrics scope and the tracer.
func (t *Telemetry) Close(ctx context.Context) error {
	var errs []error
	for i := len(t.closers) - 1; i >= 0; i-- {
		errs = append(errs, t.closers[i](ctx))
	}
	t.closers = nil
	return errors.Join(errs...)
}

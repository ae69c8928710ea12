// Package receiver is idvflow's HTTP edge: a gin server that authenticates
// each provider webhook on its raw bytes, maps it to the workflow's event and
// hands it to Temporal with SignalWithStart.
//
// The ack contract: 200 only after Temporal has accepted the signal, so a
// provider never sees success for an event that could still be lost; every
// failure before that makes the provider retry.
package receiver

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/propagation"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/semaphore"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/internal/telemetry"
	"github.com/idvflow/idvflow/internal/userref"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Config is the receiver's HTTP behaviour.
type Config struct {
	// MaxBodyBytes is the largest body read; larger ones get 413.
	MaxBodyBytes int64 `env:"IDV_MAX_BODY_BYTES, default=1048576"`
	// SignalTimeout bounds the Temporal call so the answer comes well inside
	// the providers' own timeout (5,000 ms at the strictest); past it the
	// answer is 503.
	SignalTimeout time.Duration `env:"IDV_SIGNAL_TIMEOUT, default=3s"`
	// RetryAfter is the Retry-After sent with a 503.
	RetryAfter time.Duration `env:"IDV_RETRY_AFTER, default=30s"`
	// MaxInFlightBytes bounds the bytes of the bodies being read and
	// served at once, split evenly among the providers (each route its own
	// share, so one cannot starve another). A request holds only what it
	// has received (budget.go says why), so connections that drip their
	// bodies hold almost nothing. A body its provider's share cannot hold
	// gets 503 with Retry-After (outcome "overloaded", refused reason
	// "body_budget"); 0 is no bound.
	MaxInFlightBytes int64 `env:"IDV_MAX_IN_FLIGHT_BYTES, default=67108864"`
	// MinBodyRate (bytes per second) and BodyGrace: after the grace, each
	// byte received gives the sender 1/MinBodyRate more seconds; a body
	// slower than that gets 408 (outcome "too_slow"). A genuine webhook
	// is a few KB sent at once. 0: no minimum rate.
	MinBodyRate int64         `env:"IDV_MIN_BODY_RATE, default=1024"`
	BodyGrace   time.Duration `env:"IDV_BODY_GRACE, default=2s"`
	// ReadTimeout is the server's IDV_HTTP_READ_TIMEOUT, which the minimum
	// rate's deadline never extends (0: not known, not capped).
	ReadTimeout time.Duration
	// MaxInFlight bounds the webhooks being authenticated and delivered at
	// once, counted once their body is in (a sender that has not sent its
	// body holds no slot): this bounds the decoding and the calls waiting
	// on Temporal. One over it gets 503 with Retry-After (outcome
	// "overloaded", refused reason "in_flight"); 0 is no bound.
	MaxInFlight int `env:"IDV_MAX_IN_FLIGHT, default=256"`
	// TaskQueue is where new session workflows are started.
	TaskQueue string `env:"IDV_TASK_QUEUE, default=idv-verification"`
	// Allowed lists, per provider name, the networks its webhooks may come
	// from; a provider without an entry is not restricted.
	Allowed map[string][]netip.Prefix
	// TrustedProxies are the load balancers whose X-Forwarded-For names
	// the real sender.
	TrustedProxies []netip.Prefix
	// UserRef says how user ids appear in visibility (userref).
	UserRef userref.Ref
	// Quarantine bounds what the quarantine keeps.
	Quarantine userstore.QuarantineLimits
	// QuarantinePruneEvery is how often entries past the bounds are
	// dropped (0: every 10 minutes).
	QuarantinePruneEvery time.Duration
}

// QuarantineConfig is the quarantine's bounds from the environment.
type QuarantineConfig struct {
	// MaxItems is the most webhooks kept; the oldest go first.
	MaxItems int `env:"IDV_QUARANTINE_MAX_ITEMS, default=10000"`
	// MaxAge is how long one is kept after its last delivery (providers
	// retry a refused webhook for about a week).
	MaxAge time.Duration `env:"IDV_QUARANTINE_MAX_AGE, default=720h"`
}

// Quarantine keeps the authentic webhooks the receiver refuses
// (userstore.Store has it).
type Quarantine interface {
	Quarantine(ctx context.Context, q userstore.Quarantined, lim userstore.QuarantineLimits) error
	// PruneQuarantine drops what lim no longer keeps.
	PruneQuarantine(ctx context.Context, lim userstore.QuarantineLimits) error
}

// Sealer encrypts a quarantined body (payloadcodec.Codec has it).
type Sealer interface {
	Seal(data []byte) ([]byte, error)
}

// Signaler is the one Temporal call the receiver makes (client.Client has it).
type Signaler interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
}

// Outcome is what became of one webhook; it is logged with each request.
type Outcome string

const (
	OutcomeAccepted        Outcome = "accepted"
	OutcomeIgnored         Outcome = "ignored"
	OutcomeUnauthenticated Outcome = "unauthenticated"
	// OutcomeStale is answered as OutcomeUnauthenticated (the same 401)
	// and counted apart: a genuine signature made too long ago.
	OutcomeStale       Outcome = "stale"
	OutcomeMalformed   Outcome = "malformed"
	OutcomeTooLarge    Outcome = "too_large"
	OutcomeUnavailable Outcome = "unavailable"
	OutcomeOverloaded  Outcome = "overloaded"
	OutcomeTooSlow     Outcome = "too_slow"
)

// Receiver serves POST /webhooks/{provider}.
type Receiver struct {
	cfg       Config
	temporal  Signaler
	providers []webhook.Provider
	log       *slog.Logger
	tel       *telemetry.Telemetry
	slots     chan struct{}                  // one per webhook in flight (Config.MaxInFlight)
	shares    map[string]*semaphore.Weighted // each provider's bytes (Config.MaxInFlightBytes)

	quarantine Quarantine // nil: refused webhooks are only logged
	sealer     Sealer     // nil: quarantined without their bodies
	kept       chan userstore.Quarantined
	stop       chan struct{} // closed by Close: write what is queued, then stop
	stopped    chan struct{} // closed by the keeper once it has
	closeOnce  sync.Once
}

// WithQuarantine keeps every authentic webhook the receiver refuses in q,
// its body sealed by sealer (nil: no payload keys, the body is not kept).
func (r *Receiver) WithQuarantine(q Quarantine, sealer Sealer) *Receiver {
	r.quarantine, r.sealer = q, sealer
	r.kept = make(chan userstore.Quarantined, quarantineQueue)
	r.stop, r.stopped = make(chan struct{}), make(chan struct{})
	go r.keeper()
	return r
}

// Close writes the webhooks still queued for the quarantine, until ctx
// ends, and stops its writer; call it once the server has stopped serving
// and before the quarantine's database closes.
func (r *Receiver) Close(ctx context.Context) {
	if r.kept == nil {
		return
	}
	r.closeOnce.Do(func() { close(r.stop) })
	select {
	case <-r.stopped:
	case <-ctx.Done():
		r.log.Error("quarantine: stopped with webhooks still queued", "queued", len(r.kept))
	}
}

// New returns a receiver for the given providers; tel may be nil (no
// metrics, no traces).
func New(cfg Config, temporal Signaler, log *slog.Logger, tel *telemetry.Telemetry, providers ...webhook.Provider) *Receiver {
	r := &Receiver{cfg: cfg, temporal: temporal, providers: providers, log: log, tel: tel}
	if cfg.MaxInFlight > 0 {
		r.slots = make(chan struct{}, cfg.MaxInFlight)
	}
	names := make([]string, 0, len(providers))
	for _, p := range providers {
		names = append(names, p.Name())
	}
	r.shares = shares(cfg.MaxInFlightBytes, names)
	return r
}

// Handler returns the gin engine with one route per provider.
func (r *Receiver) Handler() http.Handler {
	g := gin.New()
	g.HandleMethodNotAllowed = true
	g.Use(r.recover, requestID)
	if r.tel != nil {
		// No propagator: whoever sends a request (or replays a captured
		// one) could otherwise choose the trace id and attach baggage that
		// travels into Temporal's headers, outside the payload encryption;
		// the signature covers the body only. Each webhook is a root span.
		g.Use(otelgin.Middleware("idvflow-receiver",
			otelgin.WithTracerProvider(r.tel.Tracer), otelgin.WithPropagators(propagation.NewCompositeTextMapPropagator())))
	}
	g.NoRoute(func(c *gin.Context) { c.JSON(http.StatusNotFound, gin.H{"error": "not found"}) })
	g.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, gin.H{"error": "method not allowed: use POST"})
	})
	g.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	for _, p := range r.providers {
		g.POST("/webhooks/"+p.Name(), r.handle(p))
	}
	return g
}

// recover turns a panic into a 500 without echoing anything of the request;
// the 500 makes the provider retry.
func (r *Receiver) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("panic while handling a webhook", "path", c.FullPath())
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
		}
	}()
	c.Next()
}

// allowed reports whether the request comes from one of the provider's
// allowed networks (every source is, when the provider has none).
func (r *Receiver) allowed(req *http.Request, provider string) bool {
	nets := r.cfg.Allowed[provider]
	if len(nets) == 0 {
		return true
	}
	ip := ClientIP(req, r.cfg.TrustedProxies)
	for _, n := range nets {
		if ip.IsValid() && n.Contains(ip) {
			return true
		}
	}
	return false
}

// ClientIP is the sender's address: the connection's peer, or, when the
// peer is a trusted proxy, the right-most X-Forwarded-For entry that is not
// one (entries to its left can be forged by the sender).
func ClientIP(req *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(req.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !isTrusted(ip) {
		return ip
	}
	xff := req.Header.Values("X-Forwarded-For")
	if len(xff) == 0 {
		return ip
	}
	hops := strings.Split(strings.Join(xff, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{} // a malformed chain names nobody
		}
		if a = a.Unmap(); !isTrusted(a) {
			return a
		}
	}
	return ip
}

// unauthenticated is the one answer to every authentication failure.
var unauthenticated = gin.H{"error": "unauthenticated"}

func (r *Receiver) handle(p webhook.Provider) gin.HandlerFunc {
	types := map[string]bool{}
	for _, t := range p.Types() {
		types[t] = true
	}
	return func(c *gin.Context) {
		start := time.Now()
		outcome, ev := r.serve(c, p)
		took := time.Since(start)
		attrs := []any{"request_id", c.GetString(requestIDKey), "provider", p.Name(), "outcome", outcome,
			"status", c.Writer.Status(), "duration_ms", took.Milliseconds()}
		if ev.SessionID != "" {
			attrs = append(attrs, "workflow_id", workflows.WorkflowID(ev.Provider, ev.SessionID),
				"type", ev.Type, "kind", ev.Kind)
		}
		if reason := c.GetString(reasonKey); reason != "" {
			attrs = append(attrs, "reason", reason)
		}
		if id := c.GetString(quarantineKey); id != "" {
			attrs = append(attrs, quarantineKey, id)
		}
		r.log.Info("webhook", attrs...)
		if r.tel != nil {
			r.tel.Webhooks.WithLabelValues(p.Name(), metricType(types, ev), string(outcome)).Inc()
			r.tel.AckSeconds.WithLabelValues(p.Name(), string(outcome)).Observe(took.Seconds())
		}
	}
}

// metricType is the webhook type as a metric label: the provider's own
// names for the types it models (webhook.Provider.Types), "other" for the
// rest, "unknown" before parsing, so an authentic but odd sender cannot
// grow the label set.
func metricType(known map[string]bool, ev workflows.Event) string {
	switch {
	case ev.Type == "":
		return "unknown"
	case known[ev.Type]:
		return ev.Type
	}
	return "other"
}

// Keys of values a request carries through gin's context.
const (
	requestIDKey  = "request_id"
	reasonKey     = "reason"        // why a request was refused, for its log line
	quarantineKey = "quarantine_id" // where the refused webhook is kept
)

// requestID tags each request with the sender's X-Request-Id when it is a
// plain token, or a new one, and echoes it in the answer.
func requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !plainToken(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(requestIDKey, id)
	c.Header("X-Request-Id", id)
	c.Next()
}

func plainToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (r *Receiver) serve(c *gin.Context, p webhook.Provider) (Outcome, workflows.Event) {
	// A source outside the allowlist gets the answer of any failed
	// authentication, before its body is read or anything is held.
	if !r.allowed(c.Request, p.Name()) {
		c.Set(reasonKey, "source not allowed")
		c.JSON(http.StatusUnauthorized, unauthenticated)
		return OutcomeUnauthenticated, workflows.Event{}
	}
	held, err := r.readBody(c, p.Name())
	defer held.release(r, p.Name())
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": "body exceeds " + strconv.FormatInt(r.cfg.MaxBodyBytes, 10) + " bytes"})
			return OutcomeTooLarge, workflows.Event{}
		}
		if errors.Is(err, errBodyBudget) {
			r.refused(p.Name(), refusedBodyBudget)
			c.Set(reasonKey, "body budget in use")
			r.retryLater(c, "too many webhook bytes in flight, retry later")
			return OutcomeOverloaded, workflows.Event{}
		}
		// The sender was too slow (the minimum rate or the server's read
		// timeout) or went away; it will retry.
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			r.refused(p.Name(), refusedTooSlow)
			c.JSON(http.StatusRequestTimeout, gin.H{"error": "body not received in time"})
			return OutcomeTooSlow, workflows.Event{}
		}
		c.JSON(http.StatusBadRequest, gin.H{"error": "could not read body"})
		return OutcomeMalformed, workflows.Event{}
	}
	body := held.data
	if r.slots != nil {
		select {
		case r.slots <- struct{}{}:
			defer func() { <-r.slots }()
		default:
			r.refused(p.Name(), refusedInFlight)
			c.Set(reasonKey, "too many webhooks in flight")
			r.retryLater(c, "too many webhooks in flight, retry later")
			return OutcomeOverloaded, workflows.Event{}
		}
	}

	plain, integration, err := webhook.Authenticate(p, c.Request.Header, body)
	if err != nil {
		c.Set(reasonKey, err.Error()) // which check failed, for the log line only
		c.JSON(http.StatusUnauthorized, unauthenticated)
		if errors.Is(err, webhook.ErrStale) {
			return OutcomeStale, workflows.Event{}
		}
		return OutcomeUnauthenticated, workflows.Event{}
	}

	v := r.deliverer().Deliver(c.Request.Context(), p, Authentic{Body: plain, Integration: integration})
	switch v.Outcome {
	case OutcomeAccepted:
		c.JSON(http.StatusOK, gin.H{"status": "accepted"})
		return v.Outcome, v.Event
	case OutcomeIgnored:
		c.JSON(http.StatusOK, gin.H{"status": "ignored", "reason": v.Reason})
		return v.Outcome, v.Event
	case OutcomeUnauthenticated:
		c.Set(reasonKey, v.Err.Error())
		c.JSON(http.StatusUnauthorized, unauthenticated)
		return v.Outcome, v.Event
	}
	c.Set(reasonKey, v.Reason)
	if v.Err != nil {
		r.log.Warn("signal not accepted by Temporal", "provider", p.Name(),
			"workflow_id", workflows.WorkflowID(v.Event.Provider, v.Event.SessionID), "error", v.Err)
	}
	if v.Kept() {
		r.keep(c, p.Name(), plain, v.Event, v.Reason)
	}
	if v.Outcome == OutcomeUnavailable {
		r.retryLater(c, v.Reason)
	} else {
		c.JSON(v.Status(), gin.H{"error": v.Reason})
	}
	return v.Outcome, v.Event
}

// deliverer judges and signals the authentic webhooks this receiver takes.
func (r *Receiver) deliverer() Deliverer {
	return Deliverer{Temporal: r.temporal, TaskQueue: r.cfg.TaskQueue, UserRef: r.cfg.UserRef, Timeout: r.cfg.SignalTimeout}
}

// keep quarantines an authentic webhook the receiver is refusing, so an
// operator can re-drive it after a fix. Whatever happens here, the answer
// the provider gets is the same: a store that is slow or down only costs
// the quarantined copy (counted, and logged without the body).
func (r *Receiver) keep(c *gin.Context, provider string, plain []byte, ev workflows.Event, reason string) {
	if r.quarantine == nil {
		r.countQuarantine(provider, "off")
		return
	}
	q := userstore.Quarantined{
		ID: QuarantineID(provider, plain), Provider: provider, Integration: ev.Integration,
		Reason: reason, Headers: c.Request.Header.Clone(), LastAt: time.Now().UTC(),
	}
	if webhook.CheckSessionID(ev.SessionID) == nil {
		q.SessionID = ev.SessionID
	}
	if r.sealer != nil {
		sealed, err := r.sealer.Seal(plain)
		if err != nil {
			r.countQuarantine(provider, "failed")
			r.log.Error("quarantine: seal body", "provider", provider, "error", err)
			return
		}
		q.Body = sealed
	}
	// The write happens after the answer, outside the webhook's in-flight
	// slot: a slow or hung database delays no answer and holds no slot.
	// A full queue drops the copy (counted); the provider delivers again.
	select {
	case <-r.stop:
		// Closed (a handler outlived the server's shutdown): no writer.
		r.countQuarantine(provider, "failed")
		r.log.Error("quarantine: receiver closed, webhook not kept", "provider", provider, "quarantine_id", q.ID)
		return
	default:
	}
	select {
	case r.kept <- q:
		c.Set(quarantineKey, q.ID)
	default:
		r.countQuarantine(provider, "failed")
		r.log.Error("quarantine: queue full, webhook not kept", "provider", provider, "quarantine_id", q.ID)
	}
}

func (r *Receiver) countQuarantine(provider, result string) {
	if r.tel != nil {
		r.tel.Quarantined.WithLabelValues(provider, result).Inc()
	}
}

// keeper writes queued webhooks to the quarantine, one at a time, each
// bounded by quarantineTimeout, and drops what its bounds no longer keep
// every Config.QuarantinePruneEvery (an entry's age is up whether or not
// anything else is refused). Not at start: the workers own the schema,
// and a receiver may start before any worker has made the table.
func (r *Receiver) keeper() {
	prune := time.NewTicker(cmp.Or(r.cfg.QuarantinePruneEvery, quarantinePruneEvery))
	defer prune.Stop()
	for {
		select {
		case q := <-r.kept:
			r.keepNow(q)
		case <-prune.C:
			r.pruneQuarantine()
		case <-r.stop:
			for {
				select {
				case q := <-r.kept:
					r.keepNow(q)
				default:
					close(r.stopped)
					return
				}
			}
		}
	}
}

// keepNow writes q to the quarantine, bounded by quarantineTimeout.
func (r *Receiver) keepNow(q userstore.Quarantined) {
	ctx, cancel := context.WithTimeout(context.Background(), quarantineTimeout)
	defer cancel()
	if err := r.quarantine.Quarantine(ctx, q, r.cfg.Quarantine); err != nil {
		r.countQuarantine(q.Provider, "failed")
		r.log.Error("quarantine: webhook not kept", "provider", q.Provider, "quarantine_id", q.ID, "error", err)
		return
	}
	r.countQuarantine(q.Provider, "kept")
}

func (r *Receiver) pruneQuarantine() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.quarantine.PruneQuarantine(ctx, r.cfg.Quarantine); err != nil {
		r.log.Warn("quarantine: prune", "error", err)
	}
}

// quarantineTimeout bounds one quarantine write; quarantineQueue bounds
// the writes waiting (a burst of refusals while the database is slow).
const (
	quarantineTimeout    = time.Second
	quarantineQueue      = 256
	quarantinePruneEvery = 10 * time.Minute
)

// QuarantineID names a quarantined webhook: the same body from the same
// provider, delivered again, is the same entry.
func QuarantineID(provider string, plain []byte) string {
	h := sha256.New()
	h.Write([]byte(provider))
	h.Write([]byte{0})
	h.Write(plain)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// retryLater answers 503 with Retry-After: the provider delivers again.
func (r *Receiver) retryLater(c *gin.Context, reason string) {
	c.Header("Retry-After", strconv.Itoa(int(r.cfg.RetryAfter.Seconds())))
	c.JSON(http.StatusServiceUnavailable, gin.H{"error": reason})
}

func staticSummary(ev workflows.Event) string {
	user := ev.UserID
	if user == "" {
		user = "(user id not in the first webhook)"
	}
	return ev.Provider + " session for user " + user
}

// SignalWithStart is the one Temporal call a webhook becomes: signal ev to
// its session's workflow, starting the workflow on taskQueue if no run is
// open. The load tool calls it too, so its bare-client ceiling does exactly
// the receiver's work.
//
// A run it starts after an earlier run of the session closed is marked
// Reopened: before it acts, that run learns when the earlier runs that
// ended before their end first received what they held (R4, R5). Temporal
// tells the two starts apart at no cost to the usual webhook: the call
// first refuses to start a run where one closed before, and only that
// refusal (a webhook after its session's run closed) costs a second call.
func SignalWithStart(ctx context.Context, t Signaler, taskQueue string, ev workflows.Event) error {
	opts := client.StartWorkflowOptions{
		ID:                    workflows.WorkflowID(ev.Provider, ev.SessionID),
		TaskQueue:             taskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		// The Web UI's one-line summary of the session.
		StaticSummary: staticSummary(ev),
		// What the run would otherwise upsert in its first task.
		TypedSearchAttributes: startAttributes(ev),
	}
	in := workflows.Input{Provider: ev.Provider, SessionID: ev.SessionID, Integration: ev.Integration}
	err := signalWithStart(ctx, t, ev, opts, in)
	var closed *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &closed) {
		// An event after the run closed starts a new run; the user store
		// makes that run a no-op for a user already up to date.
		opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
		in.Reopened = true
		err = signalWithStart(ctx, t, ev, opts, in)
	}
	return err
}

// signalWithStart is one SignalWithStart call.
func signalWithStart(ctx context.Context, t Signaler, ev workflows.Event, opts client.StartWorkflowOptions, in workflows.Input) error {
	_, err := t.SignalWithStartWorkflow(ctx, opts.ID, workflows.SignalEvent, ev, opts, workflows.WorkflowName, in)
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) && undefinedAttribute(invalid.Error()) {
		// The namespace lacks idvflow's search attributes (no worker has
		// registered them yet): the webhook must not be refused for that.
		// The run sets them itself once they exist.
		opts.TypedSearchAttributes = temporal.SearchAttributes{}
		_, err = t.SignalWithStartWorkflow(ctx, opts.ID, workflows.SignalEvent, ev, opts, workflows.WorkflowName, in)
	}
	return err
}

// undefinedAttribute reports whether Temporal refused a request because
// the namespace does not know one of its search attributes. Servers word
// it two ways (server v1.32.1): "search attribute X is not defined" (the
// validator) and, with SQL visibility, "Namespace N has no mapping defined
// for search attribute X" (the alias mapper, which refuses first).
func undefinedAttribute(msg string) bool {
	return strings.Contains(msg, "search attribute ") &&
		(strings.HasSuffix(msg, " is not defined") || strings.Contains(msg, "no mapping defined for search attribute "))
}

// startAttributes are the search attributes a new run starts with: its
// provider, the waiting status and, when the webhook names the user, the
// user as visibility shows her (the run upserts only what differs).
func startAttributes(ev workflows.Event) temporal.SearchAttributes {
	updates := []temporal.SearchAttributeUpdate{
		workflows.AttrProvider.ValueSet(ev.Provider),
		workflows.AttrStatus.ValueSet(string(workflows.StatusWaiting)),
	}
	if ref := cmp.Or(ev.UserRef, ev.UserID); ref != "" {
		updates = append(updates, workflows.AttrUserID.ValueSet(ref))
	}
	return temporal.NewSearchAttributes(updates...)
}

// runLimits are the messages of the InvalidArgument refusals that concern
// the run, not the request (server v1.32.1 service/history/consts): they
// clear once the run continues as new or ends, when the same request
// starts or reaches the next run. Such a refusal gets 503 with Retry-After,
// so the provider delivers the webhook again; a 400 would lose it.
var runLimits = []string{
	"exceeded workflow execution limit for signal events",
	"Workflow history size exceeds limit.",
	"Workflow history count exceeds limit.",
	"Workflow mutable state size exceeds limit.",
}

func clearsByItself(err *serviceerror.InvalidArgument) bool {
	return slices.ContainsFunc(runLimits, func(m string) bool { return strings.Contains(err.Error(), m) })
}

package receiver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/idvflow/idvflow/internal/telemetry"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/workflows"
)

const (
	veriffSecret   = "abcdef12-abcd-abcd-abcd-abcdef012345"
	veriffClient   = "8e4f7cd8-7a19-4d7d-971f-a076407ee03c"
	seedSig        = "01fa3ded011bfce75672c99877a6cc1cf7aeaeda0ccb6b43fc21b60f595063c2"
	passbaseSecret = "passbase-demo-webhook-secret-32b"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

// fakeTemporal records signals; err, when set, is what Temporal answers.
type fakeTemporal struct {
	mu      sync.Mutex
	err     error
	delay   time.Duration
	signals []signal
	ctx     context.Context // of the last call
	// entered, when set, is told of each call, which then waits for hold.
	entered chan struct{}
	hold    chan struct{}
	// refuse, when set, is what Temporal answers a call with these options.
	refuse func(client.StartWorkflowOptions) error
}

type signal struct {
	workflowID, name string
	event            workflows.Event
	opts             client.StartWorkflowOptions
	input            workflows.Input
}

func (f *fakeTemporal) SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, arg any,
	opts client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	if f.entered != nil {
		f.entered <- struct{}{}
		<-f.hold
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ctx = ctx
	if f.err != nil {
		return nil, f.err
	}
	if f.refuse != nil {
		if err := f.refuse(opts); err != nil {
			return nil, err
		}
	}
	f.signals = append(f.signals, signal{workflowID, signalName, arg.(workflows.Event), opts, args[0].(workflows.Input)})
	return nil, nil
}

func (f *fakeTemporal) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.signals)
}

func newServer(t *testing.T, tc *fakeTemporal, logs io.Writer) *httptest.Server {
	t.Helper()
	pb, err := passbase.NewWebhooks([]string{passbaseSecret}, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := receiver.Config{MaxBodyBytes: 1 << 20, SignalTimeout: 200 * time.Millisecond, RetryAfter: 30 * time.Second, TaskQueue: "q"}
	log := slog.New(slog.NewTextHandler(logs, nil))
	srv := httptest.NewServer(receiver.New(cfg, tc, log, nil, veriff.NewWebhooks(veriffClient, []string{veriffSecret}), pb).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func testdata(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

type response struct {
	status int
	body   string
	header http.Header
}

func post(t *testing.T, url, contentType string, header http.Header, body []byte) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b), resp.Header}
}

func veriffHeaders(sig string) http.Header {
	return http.Header{"X-Auth-Client": {veriffClient}, "X-Hmac-Signature": {sig}}
}

func TestSeedCurlExample(t *testing.T) {
	tc := &fakeTemporal{}
	srv := newServer(t, tc, io.Discard)
	r := post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(seedSig), testdata(t, "veriff/decision-approved.seed.json"))
	if r.status != http.StatusOK {
		t.Fatalf("status %d body %s", r.status, r.body)
	}
	if tc.count() != 1 {
		t.Fatalf("%d signals, want 1", tc.count())
	}
	s := tc.signals[0]
	if s.workflowID != "veriff:12df6045-3846-3e45-946a-14fa6136d78b" || s.name != workflows.SignalEvent {
		t.Fatalf("signalled %q with %q", s.workflowID, s.name)
	}
	if s.event.Decision != workflows.StatusApproved || s.event.UserID != "12345678" {
		t.Fatalf("event %+v", s.event)
	}
	if s.opts.TaskQueue != "q" || s.input.SessionID != "12df6045-3846-3e45-946a-14fa6136d78b" {
		t.Fatalf("start options %+v input %+v", s.opts, s.input)
	}
}

func TestPassbaseVectors(t *testing.T) {
	tc := &fakeTemporal{}
	srv := newServer(t, tc, io.Discard)
	for _, name := range []string{"authentication-processed", "authentication-review-status-changed", "verification-completed", "verification-reviewed"} {
		r := post(t, srv.URL+"/webhooks/passbase", "text/plain", nil, testdata(t, "passbase/"+name+".enc.txt"))
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d body %s", name, r.status, r.body)
		}
	}
	for _, s := range tc.signals {
		if s.workflowID != "passbase:b76e244e-26a3-49ef-9c72-3e599bf0b5f2" {
			t.Fatalf("workflow id %q", s.workflowID)
		}
	}
	if tc.count() != 4 {
		t.Fatalf("%d signals, want 4", tc.count())
	}
}

// TestAuthenticationFailuresLookTheSame: one identical 401 for every cause,
// and no signal.
func TestAuthenticationFailuresLookTheSame(t *testing.T) {
	tc := &fakeTemporal{}
	srv := newServer(t, tc, io.Discard)
	seed := testdata(t, "veriff/decision-approved.seed.json")
	flipped := append([]byte{}, seed...)
	flipped[20] ^= 1
	enc := testdata(t, "passbase/verification-reviewed.enc.txt")

	cases := []struct {
		name, path, ct string
		header         http.Header
		body           []byte
	}{
		{"veriff flipped byte", "veriff", "application/json", veriffHeaders(seedSig), flipped},
		{"veriff wrong client key", "veriff", "application/json", http.Header{"X-Auth-Client": {"nope"}, "X-Hmac-Signature": {seedSig}}, seed},
		{"veriff empty signature", "veriff", "application/json", veriffHeaders(""), seed},
		{"veriff truncated signature", "veriff", "application/json", veriffHeaders(seedSig[:40]), seed},
		{"veriff no headers", "veriff", "application/json", nil, seed},
		{"passbase bad base64", "passbase", "text/plain", nil, []byte("%%%")},
		{"passbase truncated", "passbase", "text/plain", nil, enc[:len(enc)-10]},
		{"passbase plain JSON", "passbase", "application/json", nil, testdata(t, "passbase/verification-reviewed.json")},
		{"veriff body on passbase path", "passbase", "application/json", veriffHeaders(seedSig), seed},
	}
	var first string
	for _, c := range cases {
		r := post(t, srv.URL+"/webhooks/"+c.path, c.ct, c.header, c.body)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("%s: status %d, want 401", c.name, r.status)
		}
		if first == "" {
			first = r.body
		}
		if r.body != first {
			t.Fatalf("%s: body %q differs from %q", c.name, r.body, first)
		}
	}
	if tc.count() != 0 {
		t.Fatalf("%d signals sent for unauthenticated requests", tc.count())
	}
}

func TestAckContract(t *testing.T) {
	sign := func(body string) http.Header {
		return veriffHeaders(hmacHex(veriffSecret, body))
	}
	cases := []struct {
		name        string
		method      string
		path        string
		header      http.Header
		body        string
		temporalErr error
		delay       time.Duration
		status      int
		signalled   bool
	}{
		{name: "unmodelled type", path: "veriff", body: `{"foo":"bar"}`, status: 200},
		{name: "no session id", path: "veriff", body: `{"verification":{"status":"approved"}}`, status: 400},
		{name: "bad session id", path: "veriff", body: `{"verification":{"id":"..","status":"approved"}}`, status: 400},
		{name: "temporal unavailable", path: "veriff", body: `{"verification":{"id":"s1","status":"approved"}}`,
			temporalErr: serviceerror.NewUnavailable("down"), status: 503},
		{name: "temporal overloaded", path: "veriff", body: `{"verification":{"id":"s1","status":"approved"}}`,
			temporalErr: serviceerror.NewResourceExhausted(0, "busy"), status: 503},
		{name: "temporal too slow", path: "veriff", body: `{"verification":{"id":"s1","status":"approved"}}`,
			delay: time.Second, status: 503},
		{name: "accepted", path: "veriff", body: `{"verification":{"id":"s1","status":"approved"}}`, status: 200, signalled: true},
		{name: "wrong method", method: http.MethodGet, path: "veriff", status: 405},
		{name: "unknown provider", path: "jumio", body: `{}`, status: 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tc := &fakeTemporal{err: c.temporalErr, delay: c.delay}
			srv := newServer(t, tc, io.Discard)
			h := c.header
			if h == nil {
				h = sign(c.body)
			}
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, srv.URL+"/webhooks/"+c.path, strings.NewReader(c.body))
			req.Header = h
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.status == 503 {
				if resp.Header.Get("Retry-After") != "30" {
					t.Fatalf("503 without Retry-After: %v", resp.Header)
				}
				if d := time.Since(start); d > 900*time.Millisecond {
					t.Fatalf("503 came after %s; the signal deadline is 200ms", d)
				}
			}
			if got := tc.count() == 1; got != c.signalled {
				t.Fatalf("signalled=%v, want %v", got, c.signalled)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	tc := &fakeTemporal{}
	pb, _ := passbase.NewWebhooks([]string{passbaseSecret}, false)
	cfg := receiver.Config{MaxBodyBytes: 100, SignalTimeout: time.Second, RetryAfter: time.Second, TaskQueue: "q"}
	srv := httptest.NewServer(receiver.New(cfg, tc, slog.New(slog.DiscardHandler), nil, pb).Handler())
	defer srv.Close()

	big := bytes.Repeat([]byte("A"), 101)
	if r := post(t, srv.URL+"/webhooks/passbase", "text/plain", nil, big); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("announced oversized body: status %d", r.status)
	}
	// Chunked, so no Content-Length announces the size.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/passbase", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("unannounced oversized body: status %d", resp.StatusCode)
	}
	if tc.count() != 0 {
		t.Fatal("signalled an oversized body")
	}
}

func TestLogsCarryNoBody(t *testing.T) {
	var logs bytes.Buffer
	srv := newServer(t, &fakeTemporal{}, &logs)
	post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(seedSig), testdata(t, "veriff/decision-approved.seed.json"))
	post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders("00"), testdata(t, "veriff/decision-approved.seed.json"))
	if !strings.Contains(logs.String(), "workflow_id=veriff:12df6045") {
		t.Fatalf("log lacks the workflow id: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "request_id=") {
		t.Fatalf("log lacks the request id: %s", logs.String())
	}
	for _, secretOrPII := range []string{"MORGAN", "1967-03-30", "MORGA753116SM9IJ", "186.153.67.122", veriffSecret, seedSig} {
		if strings.Contains(logs.String(), secretOrPII) {
			t.Fatalf("log contains %q", secretOrPII)
		}
	}
}

func TestSignalErrorIsNotSwallowed(t *testing.T) {
	tc := &fakeTemporal{err: errors.New("boom")}
	srv := newServer(t, tc, io.Discard)
	body := `{"verification":{"id":"s1","status":"approved"}}`
	r := post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(hmacHex(veriffSecret, body)), []byte(body))
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d: any failure before Temporal has the signal must make the provider retry", r.status)
	}
}

// A request Temporal refuses as invalid is refused for good: a 503 would
// make Veriff retry it for a week (docs/semantics.md R9).
func TestInvalidArgumentIsNotRetried(t *testing.T) {
	tc := &fakeTemporal{err: serviceerror.NewInvalidArgument("search attribute value too large")}
	srv := newServer(t, tc, io.Discard)
	body := `{"verification":{"id":"s1","status":"approved"}}`
	r := post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(hmacHex(veriffSecret, body)), []byte(body))
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", r.status)
	}
}

// Temporal's limits on one run are refused as InvalidArgument, but clear
// by themselves once the run continues as new: the provider must deliver
// the webhook again (503), not drop it (400).
func TestRunLimitRefusalsAreRetried(t *testing.T) {
	for _, msg := range []string{
		"exceeded workflow execution limit for signal events",
		"Workflow history count exceeds limit.",
		"Workflow history size exceeds limit.",
	} {
		t.Run(msg, func(t *testing.T) {
			tc := &fakeTemporal{err: serviceerror.NewInvalidArgument(msg)}
			srv := newServer(t, tc, io.Discard)
			body := `{"verification":{"id":"s1","status":"approved"}}`
			r := post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(hmacHex(veriffSecret, body)), []byte(body))
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
				t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
			}
		})
	}
}

// A sender chooses no trace id and no baggage of what idvflow sends to
// Temporal: the HMAC covers the body only, so incoming traceparent and
// baggage headers are not trusted, with tracing on or off; the receiver
// starts its own root span.
func TestIncomingTraceContextIsNotTrusted(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Options{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close(context.Background())
	tc := &fakeTemporal{}
	cfg := receiver.Config{MaxBodyBytes: 4096, SignalTimeout: time.Second, RetryAfter: time.Second, TaskQueue: "q"}
	srv := httptest.NewServer(receiver.New(cfg, tc, slog.New(slog.DiscardHandler), tel, veriff.NewWebhooks(veriffClient, []string{veriffSecret})).Handler())
	defer srv.Close()
	body := `{"verification":{"id":"s1","status":"approved"}}`
	h := veriffHeaders(hmacHex(veriffSecret, body))
	const sent = "4bf92f3577b34da6a3ce929d0e0e4736"
	h.Set("traceparent", "00-"+sent+"-00f067aa0ba902b7-01")
	h.Set("baggage", "email=someone%40example.com,note="+strings.Repeat("x", 2000))
	if r := post(t, srv.URL+"/webhooks/veriff", "application/json", h, []byte(body)); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	if b := baggage.FromContext(tc.ctx); b.Len() != 0 {
		t.Fatalf("the sender's baggage (%d members) reached Temporal", b.Len())
	}
	if id := trace.SpanContextFromContext(tc.ctx).TraceID().String(); id == sent {
		t.Fatalf("the sender's trace id %s reached Temporal", id)
	}
}

// IDV_MAX_IN_FLIGHT bounds the webhooks served at once, before
// authentication: one over it gets 503 with Retry-After, counted, and the
// provider delivers it again; once a slot frees, webhooks are taken again.
func TestInFlightBound(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Options{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close(context.Background())
	tc := &fakeTemporal{entered: make(chan struct{}), hold: make(chan struct{})}
	cfg := receiver.Config{MaxBodyBytes: 4096, SignalTimeout: 10 * time.Second, RetryAfter: 7 * time.Second, TaskQueue: "q", MaxInFlight: 2}
	srv := httptest.NewServer(receiver.New(cfg, tc, slog.New(slog.DiscardHandler), tel, veriff.NewWebhooks(veriffClient, []string{veriffSecret})).Handler())
	defer srv.Close()
	body := `{"verification":{"id":"s1","status":"approved"}}`
	send := func() response {
		return post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(hmacHex(veriffSecret, body)), []byte(body))
	}
	held := make(chan response, 2)
	for range 2 {
		go func() { held <- send() }()
		<-tc.entered // in flight, waiting on Temporal
	}
	if r := send(); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "7" {
		t.Fatalf("third webhook: %d, Retry-After %q; want 503 with Retry-After 7", r.status, r.header.Get("Retry-After"))
	}
	close(tc.hold)
	for range 2 {
		if r := <-held; r.status != http.StatusOK {
			t.Fatalf("held webhook: %d", r.status)
		}
	}
	tc.entered = nil
	if r := send(); r.status != http.StatusOK {
		t.Fatalf("after the slots freed: %d", r.status)
	}
	if n := testutil.ToFloat64(tel.Webhooks.WithLabelValues("veriff", "unknown", "overloaded")); n != 1 {
		t.Fatalf("overloaded counted %v times, want 1", n)
	}
}

func hmacHex(secret, body string) string { return veriff.Sign([]byte(secret), []byte(body)) }

// TestCountersPerOutcome shows idv_webhooks_total moving for each outcome
// the receiver decides (duplicates are counted by the session that sees
// them: idv_session_events_repeated_total).
func TestCountersPerOutcome(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Options{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close(context.Background())
	tc := &fakeTemporal{}
	pb, _ := passbase.NewWebhooks([]string{passbaseSecret}, false)
	cfg := receiver.Config{MaxBodyBytes: 4096, SignalTimeout: 200 * time.Millisecond, RetryAfter: time.Second, TaskQueue: "q"}
	srv := httptest.NewServer(receiver.New(cfg, tc, slog.New(slog.DiscardHandler), tel, veriff.NewWebhooks(veriffClient, []string{veriffSecret}), pb).Handler())
	defer srv.Close()

	signed := func(body string) (http.Header, []byte) {
		return veriffHeaders(hmacHex(veriffSecret, body)), []byte(body)
	}
	decision := `{"verification":{"id":"s1","status":"approved"}}`
	cases := []struct {
		outcome, typ string
		send         func()
	}{
		{"accepted", "decision", func() { h, b := signed(decision); post(t, srv.URL+"/webhooks/veriff", "application/json", h, b) }},
		{"ignored", "unknown", func() { h, b := signed(`{"x":1}`); post(t, srv.URL+"/webhooks/veriff", "application/json", h, b) }},
		{"unauthenticated", "unknown", func() { post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders("00"), []byte(decision)) }},
		{"malformed", "unknown", func() {
			h, b := signed(`{"verification":{"status":"approved"}}`)
			post(t, srv.URL+"/webhooks/veriff", "application/json", h, b)
		}},
		{"too_large", "unknown", func() { post(t, srv.URL+"/webhooks/veriff", "application/json", nil, bytes.Repeat([]byte("x"), 5000)) }},
		{"unavailable", "decision", func() {
			tc.mu.Lock()
			tc.err = errors.New("temporal down")
			tc.mu.Unlock()
			h, b := signed(decision)
			post(t, srv.URL+"/webhooks/veriff", "application/json", h, b)
		}},
	}
	for _, c := range cases {
		before := testutil.ToFloat64(tel.Webhooks.WithLabelValues("veriff", c.typ, c.outcome))
		c.send()
		if got := testutil.ToFloat64(tel.Webhooks.WithLabelValues("veriff", c.typ, c.outcome)); got != before+1 {
			t.Errorf("idv_webhooks_total{outcome=%q,type=%q}: %v, want %v", c.outcome, c.typ, got, before+1)
		}
		if n := testutil.CollectAndCount(tel.AckSeconds, "idv_webhook_ack_seconds"); n == 0 {
			t.Errorf("no ack latency recorded after %s", c.outcome)
		}
	}
}

// A 401 tells the operator which check failed, in the log only: the answer
// is the same for every cause, and no body or secret is logged.
func TestUnauthenticatedLogNamesTheCheck(t *testing.T) {
	seed := testdata(t, "veriff/decision-approved.seed.json")
	for name, c := range map[string]struct {
		path   string
		header http.Header
		body   []byte
		want   string
	}{
		"wrong client key": {"veriff", http.Header{"X-Auth-Client": {"someone-else"}, "X-Hmac-Signature": {seedSig}}, seed, "client key"},
		"bad signature":    {"veriff", veriffHeaders(hmacHex("another-secret", string(seed))), seed, "matches none of VERIFF_SHARED_SECRETS"},
		"not hex":          {"veriff", veriffHeaders("zz"), seed, "not 64 hex digits"},
		"not decryptable":  {"passbase", nil, []byte("bm90IGEgY2lwaGVydGV4dCBhdCBhbGwgYXQgYWxsIQ=="), "does not decrypt"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			srv := newServer(t, &fakeTemporal{}, &logs)
			r := post(t, srv.URL+"/webhooks/"+c.path, "application/json", c.header, c.body)
			if r.status != http.StatusUnauthorized || !strings.Contains(logs.String(), c.want) {
				t.Fatalf("status %d, log %q: want 401 and a log naming %q", r.status, logs.String(), c.want)
			}
			for _, secret := range []string{veriffSecret, passbaseSecret, "MORGAN"} {
				if strings.Contains(logs.String(), secret) {
					t.Fatalf("log contains %q", secret)
				}
			}
		})
	}
}

// A new run starts with the search attributes its first task would
// otherwise upsert (a command each, docs/operations.md): its provider, the
// waiting status and the user the webhook names.
func TestSessionsStartWithTheirSearchAttributes(t *testing.T) {
	tc := &fakeTemporal{}
	srv := newServer(t, tc, io.Discard)
	body := `{"status":"success","verification":{"id":"s1","status":"approved","vendorData":"user-7","decisionTime":"2026-05-04T09:00:00Z"}}`
	if r := post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(hmacHex(veriffSecret, body)), []byte(body)); r.status != http.StatusOK {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	sa := tc.signals[0].opts.TypedSearchAttributes
	for key, want := range map[temporal.SearchAttributeKeyKeyword]string{
		workflows.AttrProvider: "veriff", workflows.AttrStatus: "waiting", workflows.AttrUserID: "user-7",
	} {
		if got, ok := sa.GetKeyword(key); !ok || got != want {
			t.Errorf("%s = %q (set %v), want %q", key.GetName(), got, ok, want)
		}
	}
}

// A namespace without idvflow's search attributes (no worker registered
// them yet) must not cost a webhook: the receiver starts the run without
// them, and the run sets them once they exist.
// Both wordings of server v1.32.1 (the validator's, and the alias mapper's
// of SQL visibility, which refuses first there; a real server's is checked
// in integration).
func TestUndefinedSearchAttributesDoNotRefuseTheWebhook(t *testing.T) {
	for _, msg := range []string{
		"search attribute IdvProvider is not defined",
		"Namespace default has no mapping defined for search attribute IdvStatus",
	} {
		t.Run(msg, func(t *testing.T) {
			calls := 0
			tc := &fakeTemporal{refuse: func(o client.StartWorkflowOptions) error {
				calls++
				if o.TypedSearchAttributes.Size() > 0 {
					return serviceerror.NewInvalidArgument(msg)
				}
				return nil
			}}
			srv := newServer(t, tc, io.Discard)
			body := `{"verification":{"id":"s1","status":"approved"}}`
			r := post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(hmacHex(veriffSecret, body)), []byte(body))
			if r.status != http.StatusOK || tc.count() != 1 || calls != 2 {
				t.Fatalf("status %d, %d signals in %d calls; want 200 and one signal, sent again without search attributes", r.status, tc.count(), calls)
			}
		})
	}
}

// A webhook for a session whose run closed starts a run marked Reopened
// (it reads the earlier runs' receipts before it acts); one for a session
// with an open run, or none, costs one call and marks nothing. Temporal
// refuses the first call's REJECT_DUPLICATE start only when a closed run
// of the workflow id exists.
func TestWebhookAfterTheRunClosedStartsAReopenedRun(t *testing.T) {
	for _, tc := range []struct {
		name      string
		closed    bool
		calls     int
		reopened  bool
		lastReuse enumspb.WorkflowIdReusePolicy
	}{
		{"no closed run", false, 1, false, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE},
		{"a closed run", true, 2, true, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			ft := &fakeTemporal{refuse: func(o client.StartWorkflowOptions) error {
				calls++
				if tc.closed && o.WorkflowIDReusePolicy == enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE {
					return serviceerror.NewWorkflowExecutionAlreadyStarted("workflow execution already finished", "", "run-1")
				}
				return nil
			}}
			srv := newServer(t, ft, io.Discard)
			body := `{"verification":{"id":"s1","status":"approved"}}`
			r := post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(hmacHex(veriffSecret, body)), []byte(body))
			if r.status != http.StatusOK || ft.count() != 1 || calls != tc.calls {
				t.Fatalf("status %d, %d signals in %d calls; want 200 and one signal in %d", r.status, ft.count(), calls, tc.calls)
			}
			s := ft.signals[0]
			if s.input.Reopened != tc.reopened || s.opts.WorkflowIDReusePolicy != tc.lastReuse {
				t.Fatalf("run started with Reopened %v under %s, want %v under %s", s.input.Reopened, s.opts.WorkflowIDReusePolicy, tc.reopened, tc.lastReuse)
			}
		})
	}
}

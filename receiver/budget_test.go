package receiver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/internal/telemetry"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"
)

// defaultConfig is the receiver's configuration from an environment that
// sets only env (the production defaults otherwise).
func defaultConfig(t *testing.T, env map[string]string) receiver.Config {
	t.Helper()
	var cfg receiver.Config
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{
		Target: &cfg, Lookuper: envconfig.MapLookuper(env)}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// bodyWatch counts, for the requests marked X-Dripper, the bodies being
// read (their handler has called Read once: it holds whatever the
// receiver lets a request hold while its body arrives) and the requests
// answered.
type bodyWatch struct {
	reading, answered atomic.Int64
	next              http.Handler
}

func (w *bodyWatch) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	if req.Header.Get("X-Dripper") == "" {
		w.next.ServeHTTP(rw, req)
		return
	}
	req.Body = &firstRead{ReadCloser: req.Body, first: func() { w.reading.Add(1) }}
	w.next.ServeHTTP(rw, req)
	w.answered.Add(1)
}

type firstRead struct {
	io.ReadCloser
	once  sync.Once
	first func()
}

func (f *firstRead) Read(p []byte) (int, error) {
	f.once.Do(f.first)
	return f.ReadCloser.Read(p)
}

// waitFor polls cond until it holds; the deadline only ends a test that
// would otherwise hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

// 300 connections without a secret drip their bodies at the route a
// genuine provider uses; once every one of them holds whatever the
// receiver lets it hold, a genuine signed webhook still gets 200, and the
// drippers are still dripping (none was answered). The configuration is
// the production default but for a long grace before the minimum body
// rate applies, so that the drippers are still there when the genuine
// webhook arrives: what saves it is the byte budget, not the rate.
func TestDrippingBodiesDoNotBlockAGenuineWebhook(t *testing.T) {
	const drippers = 300
	tc := &fakeTemporal{}
	cfg := defaultConfig(t, map[string]string{"IDV_BODY_GRACE": "10m"})
	watch := &bodyWatch{next: receiver.New(cfg, tc, slog.New(slog.DiscardHandler), nil,
		veriff.NewWebhooks(veriffClient, []string{veriffSecret})).Handler()}
	addr := listen(t, 10*time.Minute, watch)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	for i := range drippers {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dripper %d: %v", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			fmt.Fprintf(c, "POST /webhooks/veriff HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
				"X-Dripper: 1\r\nX-Auth-Client: %s\r\nX-Hmac-Signature: %s\r\nContent-Length: %d\r\n\r\n{",
				veriffClient, strings.Repeat("0", 64), 1<<20)
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
	}
	waitFor(t, "every dripper holding what it can hold (or refused)", func() bool {
		return watch.reading.Load()+watch.answered.Load() == drippers
	})

	body := `{"verification":{"id":"genuine-1","status":"approved"}}`
	client := &http.Client{Timeout: time.Minute}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/veriff", strings.NewReader(body))
	req.Header = signedVeriff(body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("genuine webhook among %d drippers: %d, want 200 (%d drippers already answered)",
			drippers, resp.StatusCode, watch.answered.Load())
	}
	if n := watch.answered.Load(); n != 0 {
		t.Fatalf("%d drippers were answered before the genuine webhook: they should still be dripping", n)
	}
	if tc.count() != 1 {
		t.Fatalf("%d signals, want 1", tc.count())
	}
}

// listen serves h behind the production server settings on a loopback
// port, with the given read timeout.
func listen(t *testing.T, readTimeout time.Duration, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := receiver.NewHTTPServer("127.0.0.1:0", readTimeout, h)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// stall opens a connection that announces a body of size bytes, sends
// sent of them at once and then nothing, until the test ends.
func stall(t *testing.T, addr string, size, sent int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /webhooks/veriff HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		size, strings.Repeat(" ", sent))
}

// Each provider reads from its own share of IDV_MAX_IN_FLIGHT_BYTES: once
// senders without a secret have filled Veriff's share with real bytes, a
// Veriff webhook gets 503 with Retry-After, counted with its reason, and a
// Passbase webhook still gets 200.
func TestOneProviderCannotStarveAnother(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Options{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close(context.Background())
	cfg := defaultConfig(t, map[string]string{"IDV_MAX_BODY_BYTES": "65536", "IDV_MAX_IN_FLIGHT_BYTES": "262144", "IDV_BODY_GRACE": "10m"})
	pb, _ := passbase.NewWebhooks([]string{passbaseSecret}, false)
	tc := &fakeTemporal{}
	addr := listen(t, 10*time.Minute, receiver.New(cfg, tc, slog.New(slog.DiscardHandler), tel,
		veriff.NewWebhooks(veriffClient, []string{veriffSecret}), pb).Handler())
	// Each holds a 64 KiB buffer: two fill Veriff's half of 256 KiB.
	for range 2 {
		stall(t, addr, 65536, 60<<10)
	}
	held := tel.BodyBytes.WithLabelValues("veriff")
	waitFor(t, "Veriff's share in use", func() bool { return testutil.ToFloat64(held) == 128<<10 })

	base := "http://" + addr + "/webhooks/"
	body := `{"verification":{"id":"share-1","status":"approved"}}`
	if r := post(t, base+"veriff", "application/json", signedVeriff(body), []byte(body)); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "30" {
		t.Fatalf("Veriff with its share in use: %d, Retry-After %q; want 503 with Retry-After 30", r.status, r.header.Get("Retry-After"))
	}
	if n := testutil.ToFloat64(tel.Refused.WithLabelValues("veriff", "body_budget")); n != 1 {
		t.Fatalf("refused for the body budget counted %v times, want 1", n)
	}
	if r := post(t, base+"passbase", "text/plain", nil, testdata(t, "passbase/verification-reviewed.enc.txt")); r.status != http.StatusOK {
		t.Fatalf("Passbase while Veriff's share is in use: %d %s, want 200", r.status, r.body)
	}
	if n := testutil.ToFloat64(tel.BodyBytes.WithLabelValues("passbase")); n != 0 {
		t.Fatalf("Passbase's share still holds %v bytes after its answer", n)
	}
}

// A body that arrives slower than IDV_MIN_BODY_RATE after IDV_BODY_GRACE
// gets 408, long before the server's read timeout, and is counted: it
// holds its bytes no longer than that.
func TestBodyBelowTheMinimumRateIsRefused(t *testing.T) {
	tel, err := telemetry.New(context.Background(), telemetry.Options{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close(context.Background())
	cfg := defaultConfig(t, map[string]string{"IDV_BODY_GRACE": "100ms"})
	addr := listen(t, 10*time.Minute, receiver.New(cfg, &fakeTemporal{}, slog.New(slog.DiscardHandler), tel,
		veriff.NewWebhooks(veriffClient, []string{veriffSecret})).Handler())
	status := rawRequest(t, addr, func(c net.Conn) {
		fmt.Fprintf(c, "POST /webhooks/veriff HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	})
	if status != http.StatusRequestTimeout {
		t.Fatalf("body stalled after one byte: %d, want 408 (0: no answer before the test gave up)", status)
	}
	if n := testutil.ToFloat64(tel.Refused.WithLabelValues("veriff", "too_slow")); n != 1 {
		t.Fatalf("refused as too slow counted %v times, want 1", n)
	}
	if n := testutil.ToFloat64(tel.Webhooks.WithLabelValues("veriff", "unknown", "too_slow")); n != 1 {
		t.Fatalf("outcome too_slow counted %v times, want 1", n)
	}
	if n := testutil.ToFloat64(tel.BodyBytes.WithLabelValues("veriff")); n != 0 {
		t.Fatalf("%v bytes still held after the answer", n)
	}
}

package receiver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/providers/registry"

	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"
)

func prefixes(t *testing.T, cidrs ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}

func TestClientIP(t *testing.T) {
	trusted := prefixes(t, "10.0.0.0/8")
	cases := []struct {
		name, remote, xff, want string
	}{
		{"direct peer, XFF ignored", "203.0.113.7:5000", "198.51.100.1", "203.0.113.7"},
		{"trusted proxy, one hop", "10.0.0.2:5000", "198.51.100.1", "198.51.100.1"},
		{"trusted chain: right-most untrusted wins", "10.0.0.2:5000", "1.2.3.4, 198.51.100.1, 10.0.0.9", "198.51.100.1"},
		{"forged left entry ignored", "10.0.0.2:5000", "35.1.1.1, 198.51.100.1", "198.51.100.1"},
		{"malformed chain names nobody", "10.0.0.2:5000", "not-an-ip", ""},
		{"trusted proxy without XFF", "10.0.0.2:5000", "", "10.0.0.2"},
		{"IPv4-mapped IPv6 peer", "[::ffff:203.0.113.7]:5000", "", "203.0.113.7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", nil)
			req.RemoteAddr = c.remote
			if c.xff != "" {
				req.Header.Set("X-Forwarded-For", c.xff)
			}
			got := receiver.ClientIP(req, trusted)
			if (c.want == "" && got.IsValid()) || (c.want != "" && got.String() != c.want) {
				t.Fatalf("got %v, want %q", got, c.want)
			}
		})
	}
}

// TestAllowlist: outside the provider's networks, a correctly signed
// webhook gets the same 401 as any failed authentication, and no signal.
func TestAllowlist(t *testing.T) {
	tc := &fakeTemporal{}
	cfg := receiver.Config{MaxBodyBytes: 1 << 20, SignalTimeout: time.Second, RetryAfter: time.Second, TaskQueue: "q",
		Allowed:        map[string][]netip.Prefix{"veriff": prefixes(t, "198.51.100.0/24")},
		TrustedProxies: prefixes(t, "127.0.0.1/32")}
	srv := httptest.NewServer(receiver.New(cfg, tc, slog.New(slog.DiscardHandler), nil, veriff.NewWebhooks(veriffClient, []string{veriffSecret})).Handler())
	defer srv.Close()
	body := `{"verification":{"id":"allow-1","status":"approved"}}`
	for _, c := range []struct {
		from   string
		status int
	}{{"198.51.100.20", 200}, {"203.0.113.5", 401}, {"", 401}} {
		h := signedVeriff(body)
		if c.from != "" {
			h.Set("X-Forwarded-For", c.from)
		}
		r := post(t, srv.URL+"/webhooks/veriff", "application/json", h, []byte(body))
		if r.status != c.status {
			t.Fatalf("from %q: %d, want %d", c.from, r.status, c.status)
		}
		if c.status == 401 && r.body != `{"error":"unauthenticated"}` {
			t.Fatalf("from %q: body %q", c.from, r.body)
		}
	}
	if tc.count() != 1 {
		t.Fatalf("%d signals, want 1", tc.count())
	}
}

// TestBuiltInHTTPS: with IDV_TLS_CERT_FILE and IDV_TLS_KEY_FILE the
// receiver serves HTTPS (TLS 1.2 or later) and not plain HTTP.
func TestBuiltInHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cfg := &receiver.ServerConfig{
		HTTPAddr: addr, ReadTimeout: time.Second, TLSCertFile: certFile, TLSKeyFile: keyFile,
		Receiver: receiver.Config{MaxBodyBytes: 1 << 20, SignalTimeout: time.Second, RetryAfter: time.Second, TaskQueue: "q"},
	}
	var err error
	cfg.Providers, err = registry.Load(context.Background(), envconfig.MapLookuper(map[string]string{
		"VERIFF_API_KEY": veriffClient, "VERIFF_SHARED_SECRETS": veriffSecret}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Temporal.Env = temporalconn.EnvMap{"TEMPORAL_ADDRESS": "127.0.0.1:1"} // never reached
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- receiver.Run(ctx, cfg, slog.New(slog.DiscardHandler), nil) }()
	defer func() { cancel(); <-done }()

	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS13}}}
	var resp *http.Response
	for range 50 {
		if resp, err = c.Get("https://" + addr + "/healthz"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("https: %d tls=%v", resp.StatusCode, resp.TLS != nil)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get("https://" + addr + "/healthz"); err == nil {
		t.Fatal("TLS 1.1 accepted")
	}
	if plain, err := http.Get("http://" + addr + "/healthz"); err == nil && plain.StatusCode == 200 {
		t.Fatal("plain HTTP served")
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idvflow-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

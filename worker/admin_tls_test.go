package worker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/worker"
)

const adminToken = "Zq8vN3tLw5xR2mKp-admin"

// selfSigned writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idvflow-admin-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// The admin API carries the token, user records and opened quarantine
// bodies: on an address other hosts can reach it is refused at start
// unless it serves TLS itself or a variable says, in so many words, that
// plain HTTP is safe there. Half a certificate, or a word that is not one
// of the two, is refused too.
func TestAdminAPIWithoutTLSIsRefusedOffLoopback(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := selfSigned(t, dir)
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	open := map[string]string{"IDV_ADMIN_ADDR": "0.0.0.0:8081", "IDV_ADMIN_TOKEN": adminToken}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name string
		env  map[string]string
		want string // a variable the refusal names; "": started
	}{
		{"loopback without TLS", map[string]string{}, ""},
		{"localhost without TLS", map[string]string{"IDV_ADMIN_ADDR": "localhost:8081"}, ""},
		{"every interface without TLS", open, "IDV_ADMIN_TLS_CERT"},
		{"all interfaces by an empty host, without TLS", with(open, "IDV_ADMIN_ADDR", ":8081"), "IDV_ADMIN_TLS_CERT"},
		{"every interface with a certificate and key", with(open, "IDV_ADMIN_TLS_CERT", cert, "IDV_ADMIN_TLS_KEY", key), ""},
		{"every interface, TLS ended by a proxy in front", with(open, "IDV_ADMIN_PLAIN_HTTP", "tls-proxy"), ""},
		{"every interface, a private network only", with(open, "IDV_ADMIN_PLAIN_HTTP", "private-network"), ""},
		{"plain HTTP said with true", with(open, "IDV_ADMIN_PLAIN_HTTP", "true"), "IDV_ADMIN_PLAIN_HTTP"},
		{"plain HTTP said with off", with(open, "IDV_ADMIN_PLAIN_HTTP", "off"), "IDV_ADMIN_PLAIN_HTTP"},
		{"plain HTTP said beside a certificate", with(open, "IDV_ADMIN_PLAIN_HTTP", "tls-proxy", "IDV_ADMIN_TLS_CERT", cert, "IDV_ADMIN_TLS_KEY", key), "IDV_ADMIN_PLAIN_HTTP"},
		{"a certificate without its key", with(open, "IDV_ADMIN_TLS_CERT", cert), "IDV_ADMIN_TLS_KEY"},
		{"a key without its certificate", map[string]string{"IDV_ADMIN_TLS_KEY": key}, "IDV_ADMIN_TLS_CERT"},
		{"a certificate file that is not one", with(open, "IDV_ADMIN_TLS_CERT", notPEM, "IDV_ADMIN_TLS_KEY", key), "IDV_ADMIN_TLS_CERT"},
		{"TLS but no token off loopback", map[string]string{"IDV_ADMIN_ADDR": "0.0.0.0:8081", "IDV_ADMIN_TLS_CERT": cert, "IDV_ADMIN_TLS_KEY": key}, "IDV_ADMIN_TOKEN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cfg worker.Config
			err := envconf.Load(context.Background(), &cfg, envconfig.MapLookuper(with(c.env, "PASSBASE_API_KEY", "k")))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("started; want a refusal naming %s", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("refusal does not name %s: %v", c.want, err)
			}
		})
	}
}

// With IDV_ADMIN_TLS_CERT and IDV_ADMIN_TLS_KEY the admin API answers over
// HTTPS (TLS 1.2 or later), and plain HTTP gets nothing from it.
func TestAdminAPIServesTLS(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	cert, key, pool := selfSigned(t, t.TempDir())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := &worker.Config{AdminAddr: addr, AdminToken: adminToken, AdminTLSCert: cert, AdminTLSKey: key}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.ServeAdmin(ctx, cfg, admin.New(nil, nil, adminToken, slog.New(slog.DiscardHandler)).Handler(), slog.New(slog.DiscardHandler))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeAdmin: %v", err)
		}
	}()

	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var resp *http.Response
	for range 100 { // until it listens
		if resp, err = c.Get("https://" + addr + "/healthz"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("https /healthz: %d, TLS %v", resp.StatusCode, resp.TLS)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/v1/users/u-1", nil)
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("https /v1 without the token: %d, want 401", resp.StatusCode)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get("https://" + addr + "/healthz"); err == nil {
		t.Fatal("TLS 1.1 accepted")
	}
	plain, err := http.Get("http://" + addr + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served")
		}
	}
}

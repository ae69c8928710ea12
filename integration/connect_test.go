package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/rpc/encryption"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/grpc/codes"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/devstack"
	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/internal/testlog"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/worker"
)

// The connection tests start a real Temporal server that demands a client
// certificate (mTLS) or an API key, then run the production receiver and
// worker (receiver.Run, worker.Run) configured through the standard
// TEMPORAL_* variables only, and follow one Veriff decision from the
// webhook to the user's row.

// TestConnectMTLS: a frontend that requires a client certificate signed by
// its CA; the binaries reach it through TEMPORAL_TLS_* files; a certificate
// from another CA is refused with a clear error.
func TestConnectMTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "idvflow-test-ca")
	serverCert := ca.issue(t, "localhost", true)
	internal := ca.issue(t, "temporal-internal", false)
	good := ca.issue(t, "idvflow", false)
	stranger := newCA(t, "someone-else").issue(t, "idvflow", false)

	ts := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseServerOptions(
		temporal.WithTLSConfigFactory(frontendTLS{
			server: &tls.Config{Certificates: []tls.Certificate{serverCert.pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool},
			client: &tls.Config{Certificates: []tls.Certificate{internal.pair}, RootCAs: ca.pool, ServerName: "localhost"},
		})))
	env := map[string]string{
		"TEMPORAL_ADDRESS":                 ts.GetFrontendHostPort(),
		"TEMPORAL_NAMESPACE":               ts.GetDefaultNamespace(),
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": ca.write(t, dir, "ca.pem"),
		"TEMPORAL_TLS_SERVER_NAME":         "localhost",
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    good.writeCert(t, dir, "client.pem"),
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     good.writeKey(t, dir, "client.key"),
	}
	onePassThrough(t, env)

	t.Run("certificate from another CA", func(t *testing.T) {
		bad := clone(env)
		bad["TEMPORAL_TLS_CLIENT_CERT_PATH"] = stranger.writeCert(t, dir, "stranger.pem")
		bad["TEMPORAL_TLS_CLIENT_KEY_PATH"] = stranger.writeKey(t, dir, "stranger.key")
		// TLS 1.3 reports the server's refusal as an alert or a closed
		// connection, depending on timing; either way the call fails.
		if err := checkHealth(bad); err == nil {
			t.Fatal("a certificate from another CA was accepted")
		}
	})
	t.Run("no certificate", func(t *testing.T) {
		bad := clone(env)
		delete(bad, "TEMPORAL_TLS_CLIENT_CERT_PATH")
		delete(bad, "TEMPORAL_TLS_CLIENT_KEY_PATH")
		if err := checkHealth(bad); err == nil {
			t.Fatal("a client without a certificate reached a frontend that requires one")
		}
	})
	t.Run("missing file is named at start", func(t *testing.T) {
		bad := clone(env)
		bad["TEMPORAL_TLS_CLIENT_KEY_PATH"] = filepath.Join(dir, "no-such.key")
		bad["PASSBASE_API_KEY"] = "k"
		err := loadWorker(t, bad, &worker.Config{})
		if err == nil || !strings.Contains(err.Error(), "TEMPORAL_TLS_CLIENT_KEY_PATH") {
			t.Fatalf("missing key file: %v, want an error naming TEMPORAL_TLS_CLIENT_KEY_PATH", err)
		}
	})
	t.Run("plaintext to a TLS frontend", func(t *testing.T) {
		bad := map[string]string{"TEMPORAL_ADDRESS": env["TEMPORAL_ADDRESS"], "TEMPORAL_NAMESPACE": env["TEMPORAL_NAMESPACE"]}
		if err := checkHealth(bad); err == nil {
			t.Fatal("a plaintext client reached a TLS frontend")
		}
	})
	t.Run("rotated certificate is used without a restart", func(t *testing.T) {
		certPath, keyPath := filepath.Join(dir, "rot.pem"), filepath.Join(dir, "rot.key")
		stranger.writeCertTo(t, certPath)
		stranger.writeKeyTo(t, keyPath)
		rot := clone(env)
		rot["TEMPORAL_TLS_CLIENT_CERT_PATH"], rot["TEMPORAL_TLS_CLIENT_KEY_PATH"] = certPath, keyPath
		c, err := lazyClient(rot)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		if err := c.health(); err == nil {
			t.Fatal("the stranger's certificate was accepted")
		}
		// Rotate on disk: the same client's next connection uses the good pair.
		good.writeCertTo(t, certPath)
		good.writeKeyTo(t, keyPath)
		deadline := time.Now().Add(60 * time.Second)
		for c.health() != nil {
			if time.Now().After(deadline) {
				t.Fatalf("the client never used the rotated certificate: %v", c.health())
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

// TestConnectAPIKey: a frontend whose authorizer demands an API key in the
// authorization header (as Temporal Cloud does); TEMPORAL_API_KEY (with
// TEMPORAL_TLS=false, since this test server speaks plaintext) reaches it,
// and a missing or wrong key is refused.
func TestConnectAPIKey(t *testing.T) {
	const key = "idvflow-test-api-key"
	ts := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseServerOptions(
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return apiKeyClaims{key: key} }),
		temporal.WithAuthorizer(apiKeyAuthorizer{}),
	))
	env := map[string]string{
		"TEMPORAL_ADDRESS":   ts.GetFrontendHostPort(),
		"TEMPORAL_NAMESPACE": ts.GetDefaultNamespace(),
		"TEMPORAL_API_KEY":   key,
		"TEMPORAL_TLS":       "false",
	}
	onePassThrough(t, env)

	for name, value := range map[string]string{"wrong key": "not-the-key", "no key": ""} {
		t.Run(name, func(t *testing.T) {
			bad := clone(env)
			if value == "" {
				delete(bad, "TEMPORAL_API_KEY")
			} else {
				bad["TEMPORAL_API_KEY"] = value
			}
			c, err := lazyClient(bad)
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			_, err = c.c.DescribeWorkflowExecution(context.Background(), "any-session", "")
			if code := serviceerror.ToStatus(err).Code(); code != codes.PermissionDenied && code != codes.Unauthenticated {
				t.Fatalf("%s: %v, want the request refused", name, err)
			}
		})
	}
}

// onePassThrough runs the production receiver and worker against the
// Temporal env describes and sends one signed Veriff decision through them.
func onePassThrough(t *testing.T, env map[string]string) {
	t.Helper()
	ps := startProduction(t, env)
	id, attempt, user := sim.NewUUID(), sim.NewUUID(), "connect-user"
	body := veriff.DecisionBody(id, attempt, user, "approved", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	ps.sendUntilAcked(t, veriffDelivery(veriffKey, veriffSecret, body))
	ps.waitUser(t, user, "approved")
}

// production is the receiver and worker binaries' Run functions, wired
// from an environment exactly as cmd/receiver and cmd/worker wire them,
// with the emulator for the providers' APIs.
type production struct {
	url   string
	emu   *emulator.Emulator
	users *userstore.Store
	errs  chan error
}

// startProduction starts them; env adds to (and overrides) the defaults: a
// SQLite database, free ports, the default Veriff integration. The emulator
// accepts the worker's provider credentials.
func startProduction(t *testing.T, env map[string]string) *production {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	ps := &production{errs: make(chan error, 2)}
	t.Cleanup(func() { cancel(); wg.Wait() })
	var logs testlog.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})

	ps.emu = emulator.New(emulator.Config{})
	emuSrv := &http.Server{Handler: ps.emu.Handler()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go emuSrv.Serve(l)
	t.Cleanup(func() { emuSrv.Close() })

	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "users.db")
	httpPort, _ := devstack.FreePort()
	adminPort, _ := devstack.FreePort()
	all := map[string]string{
		"IDV_DATABASE_URL": dbURL, "IDV_ADMIN_ADDR": fmt.Sprintf("127.0.0.1:%d", adminPort),
		"IDV_HTTP_ADDR": fmt.Sprintf("127.0.0.1:%d", httpPort), "IDV_TASK_QUEUE": "connect-test",
		"VERIFF_API_KEY": veriffKey, "VERIFF_SHARED_SECRETS": veriffSecret, "VERIFF_BASE_URL": "http://" + l.Addr().String(),
	}
	for k, v := range env {
		all[k] = v
	}
	// The store is migrated before the worker opens it: two first opens of
	// one SQLite file race for its lock.
	if ps.users, err = userstore.Open(ctx, dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.users.Close() })
	var wcfg worker.Config
	if err := loadWorker(t, all, &wcfg); err != nil {
		t.Fatal(err)
	}
	wcfg.Providers.Emulate(ps.emu)
	var rcfg receiver.ServerConfig
	if err := envconf.Load(ctx, &rcfg, envconfig.MapLookuper(all)); err != nil {
		t.Fatal(err)
	}
	rcfg.Temporal.Env, rcfg.Temporal.DisableFile = temporalconn.EnvMap(all), true
	wg.Add(2)
	go func() { defer wg.Done(); ps.errs <- worker.Run(ctx, &wcfg, log.With("service", "worker"), nil) }()
	go func() { defer wg.Done(); ps.errs <- receiver.Run(ctx, &rcfg, log.With("service", "receiver"), nil) }()
	ps.url = "http://" + rcfg.HTTPAddr
	return ps
}

func veriffDelivery(apiKey, secret string, body []byte) delivery {
	return delivery{"/webhooks/veriff", "application/json",
		http.Header{"X-Auth-Client": {apiKey}, "X-Hmac-Signature": {veriff.Sign([]byte(secret), body)}}, body}
}

// sendUntilAcked posts d until the receiver (starting, or waiting for
// Temporal) answers 200.
func (ps *production) sendUntilAcked(t *testing.T, d delivery) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for code := 0; code != http.StatusOK; code = send(t, ps.url, d) {
		select {
		case err := <-ps.errs:
			t.Fatalf("a binary stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver never acknowledged the webhook (last %d)", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (ps *production) waitUser(t *testing.T, user, status string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		u, err := ps.users.Get(context.Background(), user)
		if err == nil && u.Status == status {
			return
		}
		select {
		case err := <-ps.errs:
			t.Fatalf("a binary stopped: %v", err)
		default:
		}
		if err != nil && !errors.Is(err, userstore.ErrNotFound) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("user %s never became %s: %+v %v", user, status, u, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func loadWorker(t *testing.T, env map[string]string, cfg *worker.Config) error {
	t.Helper()
	if err := envconf.Load(context.Background(), cfg, envconfig.MapLookuper(env)); err != nil {
		return err
	}
	cfg.Temporal.Env, cfg.Temporal.DisableFile = temporalconn.EnvMap(env), true
	if errs := cfg.Temporal.Validate(); len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// connClient is a client built the way the binaries build theirs.
type connClient struct{ c client.Client }

func (c *connClient) close() { c.c.Close() }

func (c *connClient) health() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.c.CheckHealth(ctx, nil)
	return err
}

func lazyClient(env map[string]string) (*connClient, error) {
	c, err := temporalconn.Lazy(temporalconn.Config{Env: temporalconn.EnvMap(env), DisableFile: true}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return nil, err
	}
	return &connClient{c: c}, nil
}

func checkHealth(env map[string]string) error {
	c, err := lazyClient(env)
	if err != nil {
		return err
	}
	defer c.close()
	return c.health()
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// frontendTLS serves the frontend over TLS with the given configs and
// leaves traffic between the server's own services in plaintext.
type frontendTLS struct{ server, client *tls.Config }

func (f frontendTLS) GetInternodeServerConfig() (*tls.Config, error) { return nil, nil }
func (f frontendTLS) GetInternodeClientConfig() (*tls.Config, error) { return nil, nil }
func (f frontendTLS) GetFrontendServerConfig() (*tls.Config, error)  { return f.server, nil }
func (f frontendTLS) GetFrontendClientConfig() (*tls.Config, error)  { return f.client, nil }
func (f frontendTLS) GetRemoteClusterClientConfig(string) (*tls.Config, error) {
	return nil, nil
}
func (f frontendTLS) GetExpiringCerts(time.Duration) (encryption.CertExpirationMap, encryption.CertExpirationMap, error) {
	return nil, nil, nil
}

// apiKeyClaims maps "Bearer <key>" to an admin of every namespace; any
// other token is refused.
type apiKeyClaims struct{ key string }

func (m apiKeyClaims) GetClaims(info *authorization.AuthInfo) (*authorization.Claims, error) {
	if info.AuthToken != "Bearer "+m.key {
		return nil, errors.New("unknown API key")
	}
	return &authorization.Claims{Subject: "idvflow", System: authorization.RoleAdmin}, nil
}

// apiKeyAuthorizer lets through callers with claims and the server's own
// calls; everyone else is denied.
type apiKeyAuthorizer struct{}

func (apiKeyAuthorizer) Authorize(_ context.Context, caller *authorization.Claims, target *authorization.CallTarget) (authorization.Result, error) {
	// The server's own services call its frontend without a key (a real
	// cluster routes them through its internal frontend): in its system
	// namespace, GetSystemInfo (every client's first call), and the
	// namespace calls the operator service makes to add search attributes.
	system := target.Namespace == primitives.SystemLocalNamespace
	for _, api := range []string{"/GetSystemInfo", "/DescribeNamespace", "/UpdateNamespace"} {
		system = system || strings.HasSuffix(target.APIName, api)
	}
	if (caller != nil && caller.Subject == "idvflow") || system {
		return authorization.Result{Decision: authorization.DecisionAllow}, nil
	}
	return authorization.Result{Decision: authorization.DecisionDeny, Reason: "no API key"}, nil
}

// testCA is a certificate authority for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

type issued struct {
	pair            tls.Certificate
	certPEM, keyPEM []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) issue(t *testing.T, name string, server bool) issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	if server {
		tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	out := issued{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}
	if out.pair, err = tls.X509KeyPair(out.certPEM, out.keyPEM); err != nil {
		t.Fatal(err)
	}
	return out
}

func (ca *testCA) write(t *testing.T, dir, name string) string {
	return writeFile(t, filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
}

func (i issued) writeCert(t *testing.T, dir, name string) string {
	return writeFile(t, filepath.Join(dir, name), i.certPEM)
}
func (i issued) writeKey(t *testing.T, dir, name string) string {
	return writeFile(t, filepath.Join(dir, name), i.keyPEM)
}
func (i issued) writeCertTo(t *testing.T, path string) { writeFile(t, path, i.certPEM) }
func (i issued) writeKeyTo(t *testing.T, path string)  { writeFile(t, path, i.keyPEM) }

func writeFile(t *testing.T, path string, b []byte) string {
	t.Helper()
	// Write and rename, as a secret mount does, so a reader never sees half.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

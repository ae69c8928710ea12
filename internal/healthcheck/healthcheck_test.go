package healthcheck_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/idvflow/idvflow/internal/healthcheck"
)

// The receiver's healthcheck probes HTTPS when the receiver serves it.
func TestProbeFollowsTheScheme(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	tlsSrv := httptest.NewTLSServer(ok)
	defer tlsSrv.Close()
	plain := httptest.NewServer(ok)
	defer plain.Close()
	if err := healthcheck.Probe(tlsSrv.Listener.Addr().String(), true); err != nil {
		t.Fatalf("HTTPS server, HTTPS probe: %v", err)
	}
	if err := healthcheck.Probe(tlsSrv.Listener.Addr().String(), false); err == nil {
		t.Fatal("a plain-HTTP probe of an HTTPS server must fail")
	}
	if err := healthcheck.Probe(plain.Listener.Addr().String(), false); err != nil {
		t.Fatalf("HTTP server, HTTP probe: %v", err)
	}
}

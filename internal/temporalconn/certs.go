package temporalconn

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
)

// certReloader serves the client certificate from its files and loads them
// again when either file's modification time or size changes, so a
// certificate rotated on disk (cert-manager, a mounted secret) is used by
// the next connection without a restart. A pair that does not load (a
// rotation half written) keeps the last good one.
type certReloader struct {
	certPath, keyPath string

	mu    sync.Mutex
	stamp string
	cert  *tls.Certificate
}

func newCertReloader(certPath, keyPath string) (*certReloader, error) {
	r := &certReloader{certPath: certPath, keyPath: keyPath}
	if err := r.reload(); err != nil {
		return nil, fmt.Errorf("TEMPORAL_TLS_CLIENT_CERT_PATH/TEMPORAL_TLS_CLIENT_KEY_PATH: %w", err)
	}
	return r, nil
}

func (r *certReloader) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stamp != stamp(r.certPath, r.keyPath) {
		_ = r.reload() // keeps the last good pair on failure
	}
	return r.cert, nil
}

// reload loads the pair; the caller holds r.mu (or owns r).
func (r *certReloader) reload() error {
	s := stamp(r.certPath, r.keyPath)
	cert, err := tls.LoadX509KeyPair(r.certPath, r.keyPath)
	if err != nil {
		return err
	}
	r.cert, r.stamp = &cert, s
	return nil
}

func stamp(paths ...string) string {
	var s string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return ""
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s
}

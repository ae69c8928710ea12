// Package healthcheck lets a binary probe its own /healthz, for container
// health checks on images that have no shell or curl.
package healthcheck

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Probe GETs /healthz on the local port of listenAddr (":8080",
// "0.0.0.0:8081", "127.0.0.1:8081"), over HTTPS when the server serves it,
// and returns nil on 200.
func Probe(listenAddr string, https bool) error {
	_, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", listenAddr, err)
	}
	scheme := "http://"
	c := &http.Client{Timeout: 2 * time.Second}
	if https {
		// The certificate names the public host, not 127.0.0.1; this probe
		// checks that the server answers, not who it is.
		scheme = "https://"
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // loopback probe
	}
	resp, err := c.Get(scheme + net.JoinHostPort("127.0.0.1", port) + "/healthz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %d", resp.StatusCode)
	}
	return nil
}

// Run is a binary's "healthcheck" command: it exits 0 when healthy.
func Run(listenAddr string, https bool) int {
	if err := Probe(listenAddr, https); err != nil {
		fmt.Println("unhealthy:", err)
		return 1
	}
	return 0
}

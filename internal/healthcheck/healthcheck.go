// Package healthcheck lets a binary probe its own /healthz, for container
// health checks on images that have no shell or curl.
package healthcheck

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// Probe GETs /healthz on the local port of listenAddr (":8080",
// "0.0.0.0:8081", "127.0.0.1:8081") and returns nil on 200.
func Probe(listenAddr string) error {
	_, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", listenAddr, err)
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz")
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
func Run(listenAddr string) int {
	if err := Probe(listenAddr); err != nil {
		fmt.Println("unhealthy:", err)
		return 1
	}
	return 0
}

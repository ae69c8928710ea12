package httpserve_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/idvflow/idvflow/internal/httpserve"
)

// TestShutdownFinishesInFlight: on cancel the server stops accepting new
// connections and lets a request in flight complete with its answer.
func TestShutdownFinishesInFlight(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	started := make(chan struct{})
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	})}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- httpserve.Run(ctx, srv, slog.New(slog.DiscardHandler)) }()

	var resp *http.Response
	var reqErr error
	got := make(chan struct{})
	go func() {
		for range 50 { // until the server listens
			if resp, reqErr = http.Get("http://" + addr); reqErr == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(got)
	}()
	<-started
	cancel()
	<-got
	if reqErr != nil {
		t.Fatalf("in-flight request failed: %v", reqErr)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "done" {
		t.Fatalf("in-flight request: %d %q", resp.StatusCode, body)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := http.Get("http://" + addr); err == nil {
		t.Fatal("a new request was accepted after shutdown")
	}
}

// The operators' servers bound every phase of a request, not only its
// headers: a client that sends a body slowly or never reads the answer is
// cut off.
func TestServerBoundsEveryPhase(t *testing.T) {
	s := httpserve.Server("127.0.0.1:0", http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Fatalf("unbounded: %+v", s)
	}
}

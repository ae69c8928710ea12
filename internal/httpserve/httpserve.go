// Package httpserve runs an HTTP server for the life of a context.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Server returns a server for an operators' API (admin, metrics): every
// phase of a request is bounded, so a slow or stalled client cannot hold a
// connection open.
func Server(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// Run runs srv until ctx is cancelled, then shuts it down gracefully.
func Run(ctx context.Context, srv *http.Server, log *slog.Logger) error {
	return run(ctx, srv, log, srv.ListenAndServe)
}

// RunTLS is Run over HTTPS with the certificate and key files.
func RunTLS(ctx context.Context, srv *http.Server, certFile, keyFile string, log *slog.Logger) error {
	return run(ctx, srv, log, func() error { return srv.ListenAndServeTLS(certFile, keyFile) })
}

func run(ctx context.Context, srv *http.Server, log *slog.Logger, listen func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- listen() }()
	log.Info("listening", "addr", srv.Addr)
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve %s: %w", srv.Addr, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shut down %s: %w", srv.Addr, err)
	}
	return nil
}

// Command localcluster is the glue of deploy/local-cluster.sh that the
// official binaries do not provide: it creates the namespace (what
// temporal-namespace.sh does with the Temporal CLI in docker-compose.yml),
// serves the Temporal Web UI, and serves the provider emulator.
//
//	localcluster namespace   # TEMPORAL_* variables; NAMESPACE_RETENTION (default 336h)
//	localcluster ui          # UI_ADDR (default 127.0.0.1:8233), TEMPORAL_ADDRESS
//	localcluster emulator    # EMULATOR_ADDR, EMULATOR_STATE; the dev credentials
//	localcluster payload-key # prints a new IDV_PAYLOAD_KEYS value
//	localcluster set-current BUILD  # IDV_WORKER_DEPLOYMENT's current version ("" : unversioned)
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/sethvargo/go-envconfig"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/internal/deployment"
	"github.com/idvflow/idvflow/internal/httpserve"
	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/internal/version"
	"github.com/idvflow/idvflow/providers/registry"
)

func main() {
	version.ExitIfAsked("localcluster")
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: localcluster namespace|ui|emulator|payload-key|set-current BUILD")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "namespace":
		err = namespace(ctx)
	case "ui":
		err = ui(ctx)
	case "emulator":
		err = emulate(ctx)
	case "payload-key":
		fmt.Println(payloadcodec.NewKey("local-1"))
	case "set-current":
		if len(os.Args) != 3 {
			err = errors.New("usage: localcluster set-current BUILD")
			break
		}
		err = setCurrent(ctx, os.Args[2])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		log.Fatalf("localcluster %s: %v", os.Args[1], err)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// namespace creates TEMPORAL_NAMESPACE unless it exists, retrying while the
// server starts.
func namespace(ctx context.Context) error {
	conn, err := temporalconn.Config{}.Connection()
	if err != nil {
		return err
	}
	retention, err := time.ParseDuration(env("NAMESPACE_RETENTION", "336h"))
	if err != nil {
		return fmt.Errorf("NAMESPACE_RETENTION: %w", err)
	}
	c, err := temporalconn.Lazy(temporalconn.Config{}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer c.Close()
	ws := c.WorkflowService()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err = ws.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: conn.Namespace})
		var notFound *serviceerror.NamespaceNotFound
		switch {
		case err == nil:
			return visible(ctx, ws, conn.Namespace)
		case errors.As(err, &notFound):
			_, err = ws.RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
				Namespace: conn.Namespace, WorkflowExecutionRetentionPeriod: durationpb.New(retention)})
			var exists *serviceerror.NamespaceAlreadyExists
			if err == nil || errors.As(err, &exists) {
				log.Printf("namespace %s created", conn.Namespace)
				return visible(ctx, ws, conn.Namespace)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s at %s: %w", conn.Namespace, conn.HostPort, err)
		}
		time.Sleep(time.Second)
	}
}

// setCurrent makes build the current version of IDV_WORKER_DEPLOYMENT
// (default idvflow), what `temporal worker deployment set-current-version`
// does.
func setCurrent(ctx context.Context, build string) error {
	c, err := temporalconn.Lazy(temporalconn.Config{}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	name := env("IDV_WORKER_DEPLOYMENT", "idvflow")
	if err := deployment.SetCurrent(ctx, c, name, build); err != nil {
		return err
	}
	log.Printf("deployment %s: current version %q", name, build)
	return nil
}

// visible waits until the frontend's namespace cache knows ns (it refreshes
// every few seconds), so the stack is ready when "up" returns.
func visible(ctx context.Context, ws workflowservice.WorkflowServiceClient, ns string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := ws.CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: ns})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s not served: %w", ns, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// ui serves the Temporal Web UI for TEMPORAL_ADDRESS until stopped.
func ui(ctx context.Context) error {
	conn, err := temporalconn.Config{}.Connection()
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(env("UI_ADDR", "127.0.0.1:8233"))
	if err != nil {
		return fmt.Errorf("UI_ADDR: %w", err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("UI_ADDR: %w", err)
	}
	s := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host: host, Port: p, TemporalGRPCAddress: conn.HostPort, EnableUI: true,
		DefaultNamespace: conn.Namespace, HideLogs: true, DisableNewsFetch: true,
		Codec: uiconfig.Codec{Endpoint: os.Getenv("UI_CODEC_ENDPOINT")},
		CORS:  uiconfig.CORS{CookieInsecure: true},
	}))
	errc := make(chan error, 1)
	go func() { errc <- s.Start() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		s.Stop()
		return nil
	}
}

// emulate serves the providers' emulated APIs, accepting the credentials
// the environment gives the workers (the dev ones unless it says others).
func emulate(ctx context.Context) error {
	creds, err := registry.Dev(ctx, envconfig.OsLookuper(), "")
	if err != nil {
		return err
	}
	e := emulator.New(emulator.Config{StateFile: os.Getenv("EMULATOR_STATE")})
	creds.Emulate(e)
	srv := httpserve.Server(env("EMULATOR_ADDR", "127.0.0.1:8090"), e.Handler())
	return httpserve.Run(ctx, srv, slog.Default())
}

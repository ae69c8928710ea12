// Command loadtest measures idvflow against its limits and writes a report
// (Markdown and JSON) with a CPU profile of the receiver phase:
//
//	go run ./cmd/loadtest                      # starts the embedded stack in this process
//	go run ./cmd/loadtest -target-running      # or targets `go run ./cmd/dev` on its default ports
//	go run ./cmd/loadtest -cluster /tmp/idvflow-cluster/env   # or deploy/local-cluster.sh's stack
//	go run ./cmd/loadtest -sizing 10           # history events, actions and tasks per path, beside each floor
//	go run ./cmd/loadtest -e2e-only -n 600     # the end-to-end phase alone, with its CPU profile
//
// See the README's "Performance" section for the latest table.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/activities/notify"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/devstack"
	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/internal/version"
	"github.com/idvflow/idvflow/providers/registry"
	"github.com/idvflow/idvflow/simulator"
)

func main() {
	version.ExitIfAsked("loadtest")
	var o Options
	flag.IntVar(&o.Concurrency, "c", 16, "concurrency of the closed-loop phases")
	flag.DurationVar(&o.Duration, "d", 10*time.Second, "duration of each timed phase")
	flag.IntVar(&o.Sessions, "n", 200, "end-to-end sessions")
	out := flag.String("out", "loadtest-report", "directory for report.md, report.json and receiver-cpu.prof")
	running := flag.Bool("target-running", false, "target a running `go run ./cmd/dev` (default ports) instead of starting one")
	cluster := flag.String("cluster", "", "target deploy/local-cluster.sh's stack, described by its env file")
	flag.IntVar(&sizing, "sizing", 0, "instead of the load phases, measure N sessions of each common path (history events, actions, rows) for docs/operations.md")
	flag.BoolVar(&o.OnlyEndToEnd, "e2e-only", false, "run the end-to-end phase alone")
	notifyListen := flag.String("notify-listen", "", "serve the app's notify endpoint (answering 204) at this address, for a stack whose workers' IDV_NOTIFY_URL points there; -sizing then measures the users' onboarding runs too (the embedded stack gets one of its own)")
	flag.Parse()
	if *notifyListen != "" {
		if err := serveApp(*notifyListen); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
		o.Onboarding = true
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, *out, *running, *cluster); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// sizing is -sizing: sessions per path, 0 for the load phases.
var sizing int

// shortTimings close a sizing session within seconds.
var shortTimings = map[string]string{
	"IDV_PROCESSED_GRACE": "2s", "IDV_DECISION_POLL_AFTER": "2s", "IDV_POLL_INTERVAL": "2s", "IDV_LATE_EVENT_WINDOW": "5s",
}

func run(ctx context.Context, o Options, out string, running bool, cluster string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	creds, err := registry.Dev(ctx, envconfig.OsLookuper(), "")
	if err != nil {
		return err
	}
	t := &simulator.Target{
		ReceiverURL: "http://127.0.0.1:8080", EmulatorURL: "http://127.0.0.1:8090", Namespace: devstack.Namespace, Providers: creds,
	}
	temporalAddr, adminURL, dbURL := "127.0.0.1:7233", "http://127.0.0.1:8081", "sqlite:idvflow-dev/users.db"
	conn := temporalconn.Config{DisableFile: true}
	if cluster != "" {
		env, err := envconf.ReadFile(cluster)
		if err != nil {
			return fmt.Errorf("-cluster: %w (is deploy/local-cluster.sh up?)", err)
		}
		o.Receivers = strings.Split(env["IDV_CLUSTER_RECEIVERS"], ",")
		t.ReceiverURL, t.EmulatorURL, adminURL = o.Receivers[0], env["IDV_CLUSTER_EMULATOR"], env["IDV_CLUSTER_ADMIN"]
		temporalAddr = env["TEMPORAL_ADDRESS"]
		// The ceiling's signals must be readable by the cluster's workers.
		conn.PayloadKeys = env["IDV_PAYLOAD_KEYS"]
		dbURL = env["IDV_CLUSTER_DATABASE_URL"]
	} else if !running {
		dir, err := os.MkdirTemp("", "idvflow-loadtest-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		env := shortTimingsIf(sizing > 0)
		if sizing > 0 {
			// Sizing measures the paths as they run with an app to notify:
			// each final decision's onboarding run is part of its cost.
			addr := fmt.Sprintf("127.0.0.1:%d", port())
			if err := serveApp(addr); err != nil {
				return err
			}
			env["IDV_NOTIFY_URL"], env["IDV_NOTIFY_SECRET"], env["IDV_ONBOARDING_IDLE"] = "http://"+addr+"/idv", notifySecret(), "1s"
			o.Onboarding = true
		}
		s, err := devstack.Start(ctx, devstack.Options{
			DataDir: dir, TemporalPort: port(), UIPort: port(), HTTPPort: port(), AdminPort: port(), EmulatorPort: port(),
			Logger: quiet, Env: envconfig.MultiLookuper(envconfig.MapLookuper(env), envconfig.OsLookuper()),
		})
		if err != nil {
			return err
		}
		defer s.Stop()
		t.ReceiverURL, t.EmulatorURL = s.ReceiverURL, s.EmulatorURL
		temporalAddr, adminURL, dbURL = s.Temporal.FrontendAddr(), s.AdminURL, s.Worker.DatabaseURL
		conn.PayloadKeys = s.Worker.Temporal.PayloadKeys
		o.InProcess = true
		o.CPUProfile = filepath.Join(out, "receiver-cpu.prof")
		o.E2EProfile = filepath.Join(out, "e2e-cpu.prof")
	}
	conn.Env = temporalconn.EnvMap{"TEMPORAL_ADDRESS": temporalAddr, "TEMPORAL_NAMESPACE": devstack.Namespace}
	c, err := temporalconn.Lazy(conn, quiet, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	o.Temporal, o.Target, o.AdminURL, o.TaskQueue = c, t, adminURL, "idv-verification"
	o.Progress = func(s string) { fmt.Fprintln(os.Stderr, s) }
	if sizing > 0 {
		return measureSizing(ctx, o, dbURL, out)
	}

	r, err := Run(ctx, o)
	if err != nil {
		return err
	}
	md := r.Markdown()
	fmt.Print(md)
	if err := os.WriteFile(filepath.Join(out, "report.md"), []byte(md), 0o644); err != nil {
		return err
	}
	b, _ := jsonIndent(r)
	return os.WriteFile(filepath.Join(out, "report.json"), b, 0o644)
}

func port() int {
	p, err := devstack.FreePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
	return p
}

func shortTimingsIf(on bool) map[string]string {
	if !on {
		return map[string]string{}
	}
	return maps.Clone(shortTimings)
}

// serveApp answers the workers' notifications at addr, as an app that
// takes every one (204), in the background.
func serveApp(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("notify endpoint: %w", err)
	}
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	return nil
}

// notifySecret is a fresh IDV_NOTIFY_SECRET.
func notifySecret() string {
	return notify.SecretPrefix + base64.StdEncoding.EncodeToString([]byte(rand.Text()))
}

// measureSizing writes sizing.md and sizing.json.
func measureSizing(ctx context.Context, o Options, dbURL, out string) error {
	users, err := userstore.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer users.Close()
	fmt.Fprintf(os.Stderr, "sizing: %d sessions per path\n", sizing)
	costs, err := Sizing(ctx, o, users, sizing)
	if err != nil {
		return err
	}
	md := SizingMarkdown(costs)
	fmt.Print(md)
	if err := os.WriteFile(filepath.Join(out, "sizing.md"), []byte(md), 0o644); err != nil {
		return err
	}
	b, _ := jsonIndent(costs)
	return os.WriteFile(filepath.Join(out, "sizing.json"), b, 0o644)
}

func jsonIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

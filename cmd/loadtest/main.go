// Command loadtest measures idvflow against its limits and writes a report
// (Markdown and JSON) with a CPU profile of the receiver phase:
//
//	go run ./cmd/loadtest                      # starts the embedded stack in this process
//	go run ./cmd/loadtest -target-running      # or targets `go run ./cmd/dev` on its default ports
//
// See the README's "Performance" section for the latest table.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/idvflow/idvflow/internal/devcreds"
	"github.com/idvflow/idvflow/internal/devstack"
	"github.com/idvflow/idvflow/internal/loadtest"
	"github.com/idvflow/idvflow/simulator"
)

func main() {
	var o loadtest.Options
	flag.IntVar(&o.Concurrency, "c", 16, "concurrency of the closed-loop phases")
	flag.DurationVar(&o.Duration, "d", 10*time.Second, "duration of each timed phase")
	flag.IntVar(&o.Sessions, "n", 200, "end-to-end sessions")
	out := flag.String("out", "loadtest-report", "directory for report.md, report.json and receiver-cpu.prof")
	running := flag.Bool("target-running", false, "target a running `go run ./cmd/dev` (default ports) instead of starting one")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, *out, *running); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o loadtest.Options, out string, running bool) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	t := &simulator.Target{
		ReceiverURL: "http://127.0.0.1:8080", EmulatorURL: "http://127.0.0.1:8090", Namespace: devcreds.Namespace,
		VeriffAPIKey: devcreds.VeriffAPIKey, VeriffSecret: devcreds.VeriffSharedSecret, PassbaseSecret: devcreds.PassbaseWebhookSecret,
	}
	temporalAddr, adminURL := "127.0.0.1:7233", "http://127.0.0.1:8081"
	if !running {
		dir, err := os.MkdirTemp("", "idvflow-loadtest-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		s, err := devstack.Start(ctx, devstack.Options{
			DataDir: dir, TemporalPort: port(), UIPort: port(), HTTPPort: port(), AdminPort: port(), EmulatorPort: port(),
			Logger: quiet,
		})
		if err != nil {
			return err
		}
		defer s.Stop()
		t.ReceiverURL, t.EmulatorURL = s.ReceiverURL, s.EmulatorURL
		temporalAddr, adminURL = s.Temporal.FrontendAddr(), s.AdminURL
		o.InProcess = true
		o.CPUProfile = filepath.Join(out, "receiver-cpu.prof")
	}
	c, err := client.Dial(client.Options{HostPort: temporalAddr, Namespace: devcreds.Namespace, Logger: tlog.NewStructuredLogger(quiet)})
	if err != nil {
		return err
	}
	defer c.Close()
	o.Temporal, o.Target, o.AdminURL, o.TaskQueue = c, t, adminURL, "idv-verification"
	o.Progress = func(s string) { fmt.Fprintln(os.Stderr, s) }

	r, err := loadtest.Run(ctx, o)
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

func jsonIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

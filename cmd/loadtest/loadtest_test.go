package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/idvflow/idvflow/devstack"
)

// TestSmoke runs every phase of the load tool briefly against the embedded
// stack and checks the report's outcomes (not its speed: that is what the
// tool itself reports).
func TestSmoke(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	ctx := context.Background()
	s, err := devstack.Start(ctx, devstack.Options{
		DataDir: t.TempDir(), TemporalPort: port(), UIPort: port(), HTTPPort: port(), AdminPort: port(), EmulatorPort: port(),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	c, err := client.Dial(client.Options{HostPort: s.Temporal.FrontendAddr(), Namespace: devstack.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := Run(ctx, Options{
		Concurrency: 4, Duration: time.Second, Sessions: 10, TaskQueue: "idv-verification",
		Temporal: c, AdminURL: s.AdminURL, InProcess: true,
		Target: s.Target(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.CeilingPerSec <= 0 || r.ReceiverPerSec <= 0 || r.ReceiverErrors != 0 {
		t.Fatalf("throughput phases: %+v", r)
	}
	if len(r.Latency) != 2 || r.Latency[0].Success != 1 || r.Latency[0].BareP50Millis <= 0 {
		t.Fatalf("latency phases: %+v", r.Latency)
	}
	if r.Sessions != 10 || r.SessionsIncorrect != 0 || r.SessionP99Millis <= 0 {
		t.Fatalf("end to end: %+v", r)
	}
	if r.MaxRSSMiB <= 0 || r.MaxGoroutines <= 0 {
		t.Fatalf("memory: %+v", r)
	}
	md := r.Markdown()
	for _, want := range []string{"ceiling", "ratio 2/1", "ack latency at 50%", "end to end", "peak RSS"} {
		if !strings.Contains(md, want) {
			t.Fatalf("report lacks %q:\n%s", want, md)
		}
	}
}

package devstack_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/devstack"
	"github.com/idvflow/idvflow/internal/testlog"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/registry"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/simulator"
)

// TestKill9ThenRestart: `go run ./cmd/dev` acknowledges sessions, is killed
// with SIGKILL before they finish, and is started again on the same data
// dir: every session finishes, no user is missing, none is applied twice.
func TestKill9ThenRestart(t *testing.T) {
	bin := buildDev(t)
	data := t.TempDir()
	ports := map[string]int{"temporal": freePort(t), "ui": freePort(t), "http": freePort(t), "admin": freePort(t), "emulator": freePort(t)}
	start := func() *exec.Cmd {
		// Sessions that close soon after their decision, and a grace that
		// is still running when the process dies.
		return startBinary(t, bin, data, ports, nil, nil, "IDV_PROCESSED_GRACE=4s", "IDV_LATE_EVENT_WINDOW=3s", "IDV_LOG_LEVEL=error")
	}
	devProviders, err := registry.Dev(context.Background(), envconfig.MapLookuper(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	tg := &simulator.Target{
		ReceiverURL: fmt.Sprintf("http://127.0.0.1:%d", ports["http"]), EmulatorURL: fmt.Sprintf("http://127.0.0.1:%d", ports["emulator"]),
		Namespace: devstack.Namespace, Providers: devProviders,
	}

	first := start()
	var sessions []simulator.Session
	for i := range 6 {
		// Decision first: each session then waits in its processed grace,
		// which the kill interrupts.
		s, err := tg.Run(context.Background(), passbase.Scenario{Outcome: []string{"approved", "declined"}[i%2], Order: "decision-first", Legacy: i%2 == 0}, 1)
		if err != nil {
			t.Fatal(err)
		}
		v, err := tg.Run(context.Background(), veriff.Scenario{Outcome: "approved"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s, v)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()

	start()
	deadline := time.Now().Add(2 * time.Minute)
	for _, s := range sessions {
		var u admin.UserView
		for {
			code := get(t, fmt.Sprintf("http://127.0.0.1:%d/v1/users/%s", ports["admin"], s.UserID), &u)
			if code == http.StatusOK && u.Status == s.Want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: user %s is %q (HTTP %d) after the restart, want %q", s.WorkflowID, s.UserID, u.Status, code, s.Want)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if len(u.History) != 1 {
			t.Fatalf("%s: %d changes, want exactly 1", s.UserID, len(u.History))
		}
	}
}

// Ctrl-C stops `go run ./cmd/dev` cleanly: a last line saying so, and no
// warnings from the embedded server's parts as they go down one by one.
func TestInterruptStopsCleanly(t *testing.T) {
	bin := buildDev(t)
	ports := map[string]int{"temporal": freePort(t), "ui": freePort(t), "http": freePort(t), "admin": freePort(t), "emulator": freePort(t)}
	var stderr, stdout testlog.Buffer
	cmd := startBinary(t, bin, t.TempDir(), ports, &stdout, &stderr)
	for deadline := time.Now().Add(time.Minute); !strings.Contains(stdout.String(), "idvflow dev stack is up"); {
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	out := stderr.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.Contains(lines[len(lines)-1], "idvflow dev stack stopped") {
		t.Fatalf("last line %q, want the stack's stopped line", lines[len(lines)-1])
	}
	if strings.Contains(out, "level=WARN") || strings.Contains(out, "level=ERROR") {
		t.Fatalf("warnings or errors while stopping:\n%s", out)
	}
}

func buildDev(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dev")
	build := exec.Command("go", "build", "-o", bin, "../cmd/dev")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build cmd/dev: %v", err)
	}
	return bin
}

// startBinary starts the built cmd/dev on ports and data, its output into
// stdout and stderr when given, and waits for its admin API.
func startBinary(t *testing.T, bin, data string, ports map[string]int, stdout, stderr io.Writer, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "-data-dir", data,
		"-temporal-port", strconv.Itoa(ports["temporal"]), "-ui-port", strconv.Itoa(ports["ui"]),
		"-http-port", strconv.Itoa(ports["http"]), "-admin-port", strconv.Itoa(ports["admin"]),
		"-emulator-port", strconv.Itoa(ports["emulator"]))
	cmd.Env, cmd.Stdout, cmd.Stderr = append(os.Environ(), env...), stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitUp(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", ports["admin"]))
	return cmd
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not come up", url)
}

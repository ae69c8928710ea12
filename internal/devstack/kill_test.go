package devstack_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/internal/devcreds"
	"github.com/idvflow/idvflow/simulator"
)

// TestKill9ThenRestart: `go run ./cmd/dev` acknowledges sessions, is killed
// with SIGKILL before they finish, and is started again on the same data
// dir: every session finishes, no user is missing, none is applied twice.
func TestKill9ThenRestart(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "dev")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/dev")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build cmd/dev: %v", err)
	}
	data := t.TempDir()
	ports := map[string]int{"temporal": freePort(t), "ui": freePort(t), "http": freePort(t), "admin": freePort(t), "emulator": freePort(t)}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "-data-dir", data,
			"-temporal-port", strconv.Itoa(ports["temporal"]), "-ui-port", strconv.Itoa(ports["ui"]),
			"-http-port", strconv.Itoa(ports["http"]), "-admin-port", strconv.Itoa(ports["admin"]),
			"-emulator-port", strconv.Itoa(ports["emulator"]))
		// Sessions that close soon after their decision, and a grace that
		// is still running when the process dies.
		cmd.Env = append(os.Environ(), "IDV_PROCESSED_GRACE=4s", "IDV_LATE_EVENT_WINDOW=3s", "IDV_LOG_LEVEL=error")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitUp(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", ports["admin"]))
		return cmd
	}
	tg := &simulator.Target{
		ReceiverURL: fmt.Sprintf("http://127.0.0.1:%d", ports["http"]), EmulatorURL: fmt.Sprintf("http://127.0.0.1:%d", ports["emulator"]),
		Namespace: devcreds.Namespace, VeriffAPIKey: devcreds.VeriffAPIKey, VeriffSecret: devcreds.VeriffSharedSecret,
		PassbaseSecret: devcreds.PassbaseWebhookSecret,
	}

	first := start()
	var sessions []simulator.Session
	for i := range 6 {
		// Decision first: each session then waits in its processed grace,
		// which the kill interrupts.
		s, err := tg.Passbase(context.Background(), simulator.PassbaseScenario{Outcome: []string{"approved", "declined"}[i%2], Order: "decision-first", Legacy: i%2 == 0})
		if err != nil {
			t.Fatal(err)
		}
		v, err := tg.Veriff(context.Background(), simulator.VeriffScenario{Outcome: "approved"})
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

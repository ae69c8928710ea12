package devstack_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sethvargo/go-envconfig"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/devstack"
	"github.com/idvflow/idvflow/internal/testlog"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/simulator"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startDev starts the dev stack as `go run ./cmd/dev` does, on free ports,
// with short session timings so closing and polling happen within the test.
func startDev(t *testing.T) *devstack.Stack {
	t.Helper()
	return startDevWith(t, devOptions(t, shortTimings))
}

// shortTimings make closing and polling happen within a test.
var shortTimings = map[string]string{
	"IDV_PROCESSED_GRACE":     "2s",
	"IDV_DECISION_POLL_AFTER": "3s",
	"IDV_POLL_INTERVAL":       "1s",
	"IDV_LATE_EVENT_WINDOW":   "5s",
}

// startDevWith starts the dev stack with o, for the test's life.
func startDevWith(t *testing.T, o devstack.Options) *devstack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// devOptions are the dev stack's options on free ports, with env over the
// dev defaults.
func devOptions(t *testing.T, env map[string]string) devstack.Options {
	t.Helper()
	return devstack.Options{
		DataDir:      t.TempDir(),
		TemporalPort: freePort(t), UIPort: freePort(t), HTTPPort: freePort(t),
		AdminPort: freePort(t), EmulatorPort: freePort(t),
		Env:    envconfig.MapLookuper(env),
		Logger: slog.New(slog.DiscardHandler),
	}
}

// TestSimulatorScenarios runs every simulator outcome of both providers
// against the dev stack and checks each user's row through the admin API.
func TestSimulatorScenarios(t *testing.T) {
	var logs testlog.Buffer
	o := devOptions(t, shortTimings)
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s := startDevWith(t, o)
	// The embedded server's SQLite is quiet under this load (one connection:
	// no "database is locked").
	t.Cleanup(func() {
		if strings.Contains(logs.String(), "SQLITE_BUSY") {
			t.Errorf("the embedded server logged SQLITE_BUSY")
		}
	})
	tg := s.Target()
	ctx := context.Background()

	var sessions []simulator.Session
	add := func(sess simulator.Session, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("simulate %s: %v", sess.WorkflowID, err)
		}
		sessions = append(sessions, sess)
	}
	for i, outcome := range passbase.Outcomes {
		order := []string{"processed-first", "decision-first", "together"}[i%3]
		add(tg.Run(ctx, passbase.Scenario{Outcome: outcome, Order: order}, 2))
		add(tg.Run(ctx, passbase.Scenario{Outcome: outcome, Order: order, Legacy: true}, 1))
	}
	for _, outcome := range veriff.Outcomes {
		add(tg.Run(ctx, veriff.Scenario{Outcome: outcome, Events: true, Watchlist: true}, 2))
	}

	deadline := time.Now().Add(90 * time.Second)
	for _, sess := range sessions {
		var u admin.UserView
		for {
			code := get(t, s.AdminURL+"/v1/users/"+sess.UserID, &u)
			if code == http.StatusOK && u.Status == sess.Want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: user %s is %q (HTTP %d), want %q", sess.WorkflowID, sess.UserID, u.Status, code, sess.Want)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if u.SessionID != sess.ID || u.Provider != sess.Provider {
			t.Errorf("%s: user %+v", sess.WorkflowID, u)
		}
		if !strings.Contains(sess.UILink, s.UIURL) {
			t.Errorf("UI link %q", sess.UILink)
		}
	}
}

// TestWebUI checks that the embedded Web UI serves its page and lists a
// session with idvflow's search attributes.
func TestWebUI(t *testing.T) {
	s := startDev(t)
	resp, err := http.Get(s.UIURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(strings.ToLower(string(page)), "<html") {
		t.Fatalf("UI answered %d %s: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}

	sess, err := s.Target().Run(context.Background(), veriff.Scenario{Outcome: "approved", UserID: "ui-user"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	query := `IdvUserId="ui-user" and IdvStatus="approved" and IdvProvider="veriff"`
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list struct {
			Executions []struct {
				Execution struct {
					WorkflowID string `json:"workflowId"`
				} `json:"execution"`
			} `json:"executions"`
		}
		code := get(t, s.UIURL+"/api/v1/namespaces/default/workflows?query="+url.QueryEscape(query), &list)
		if code == http.StatusOK && len(list.Executions) == 1 && list.Executions[0].Execution.WorkflowID == sess.WorkflowID {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the UI's list for %s: HTTP %d, %+v", query, code, list)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func get(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("decode %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// Every variable overrides a dev default, IDV_HTTP_ADDR included: the stack
// waits for the receiver where it really listens, and says so.
func TestHTTPAddrOverridesTheFlag(t *testing.T) {
	port := freePort(t)
	s := startDevWith(t, devOptions(t, map[string]string{"IDV_HTTP_ADDR": ":" + strconv.Itoa(port)}))
	if want := "http://127.0.0.1:" + strconv.Itoa(port); s.ReceiverURL != want {
		t.Fatalf("receiver URL %s, want %s", s.ReceiverURL, want)
	}
	resp, err := http.Get(s.ReceiverURL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

// A taken port is named, with the flag that moves it, before anything
// starts (the embedded server would otherwise panic inside its start).
func TestTakenPortIsNamed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	o := devOptions(t, nil)
	taken := l.Addr().(*net.TCPAddr).Port
	o.TemporalPort = taken
	_, err = devstack.Start(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "-temporal-port") || !strings.Contains(err.Error(), strconv.Itoa(taken)) {
		t.Fatalf("got %v, want an error naming port %d and -temporal-port", err, taken)
	}
}

// A taken default port is no reason to refuse when the environment moves
// the receiver and the admin API elsewhere (IDV_HTTP_ADDR, IDV_ADMIN_ADDR):
// the stack checks the addresses it will listen on.
func TestTakenFlagPortMovedByTheEnvironment(t *testing.T) {
	var taken []int
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		taken = append(taken, l.Addr().(*net.TCPAddr).Port)
	}
	http, admin := freePort(t), freePort(t)
	o := devOptions(t, map[string]string{
		"IDV_HTTP_ADDR": "127.0.0.1:" + strconv.Itoa(http), "IDV_ADMIN_ADDR": "127.0.0.1:" + strconv.Itoa(admin),
	})
	o.HTTPPort, o.AdminPort = taken[0], taken[1]
	s := startDevWith(t, o)
	if want := "http://127.0.0.1:" + strconv.Itoa(http); s.ReceiverURL != want {
		t.Fatalf("receiver URL %s, want %s", s.ReceiverURL, want)
	}
}

// The first session on a brand-new dev server is not held back: its
// workflow tasks do not fail while the server's caches catch up with the
// search attributes the worker just registered (they once failed with
// BadSearchAttributes for 10 seconds, the namespace cache's refresh).
func TestFirstSessionOnAFreshServer(t *testing.T) {
	s := startDevWith(t, devOptions(t, shortTimings))
	ctx := context.Background()
	sess, err := s.Target().Run(ctx, veriff.Scenario{Outcome: "approved"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var u admin.UserView
		if get(t, s.AdminURL+"/v1/users/"+sess.UserID, &u) == http.StatusOK && u.Status == "approved" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first session never reached the user")
		}
		time.Sleep(100 * time.Millisecond)
	}
	c, err := client.Dial(client.Options{HostPort: s.Temporal.FrontendAddr(), Namespace: devstack.Namespace, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	it := c.GetWorkflowHistory(ctx, sess.WorkflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED {
			t.Fatalf("a workflow task failed: %v", e.GetWorkflowTaskFailedEventAttributes().GetFailure().GetMessage())
		}
	}
}

package integration

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

func faultStack(t *testing.T, o testkit.Options) *testkit.Stack {
	t.Helper()
	if o.Workflow.SessionExpiry == 0 {
		o.Workflow = shortSessions()
		o.Workflow.ActivityTimeout = 3 * time.Second
	}
	o.T = t
	st, err := testkit.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func mixedSessions(t *testing.T, emu providerAPI, n int) ([]session, []delivery) {
	r := rand.New(rand.NewPCG(3, 4))
	var sessions []session
	var all []delivery
	for i := range n {
		s := veriffSession(t, emu, 1000+i, r)
		if i%2 == 1 {
			s = passbaseSession(t, emu, 1000+i, r)
		}
		sessions = append(sessions, s)
		all = append(all, s.deliveries...)
	}
	return sessions, all
}

// checkUsers asserts every session's user ends in its status with no
// decision applied twice.
func checkUsers(t *testing.T, st *testkit.Stack, sessions []session) {
	t.Helper()
	checkUserRows(t, st.Users, sessions)
}

func checkUserRows(t *testing.T, users *userstore.Store, sessions []session) {
	t.Helper()
	for _, s := range sessions {
		u, err := users.Get(context.Background(), s.userID)
		if err != nil {
			t.Fatalf("%s %s: user %s: %v", s.provider, s.id, s.userID, err)
		}
		if u.Status != s.want || len(u.History) == 0 || len(u.History) > s.decisions {
			t.Fatalf("%s user %s: %q with %d changes, want %q with 1..%d", s.provider, s.userID, u.Status, len(u.History), s.want, s.decisions)
		}
		seen := map[string]bool{}
		for _, h := range u.History {
			k := h.Status + h.DecidedAt.String()
			if seen[k] {
				t.Fatalf("%s user %s: %s applied twice", s.provider, s.userID, h.Status)
			}
			seen[k] = true
		}
	}
}

// (a) Temporal unavailable: the receiver answers 503 with Retry-After inside
// its deadline and acknowledges nothing; once Temporal is back, the
// provider's redelivery completes every session; nothing acknowledged is
// lost.
func TestFaultTemporalUnavailable(t *testing.T) {
	st := faultStack(t, testkit.Options{})
	px := newProxy(t, st.Temporal.GetFrontendHostPort())
	opts, err := temporalconn.Options(slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts.HostPort, opts.Namespace = px.Addr(), st.Temporal.GetDefaultNamespace()
	pc, err := client.NewLazyClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pb, _ := passbase.NewWebhooks([]string{passbase.DevWebhookSecret}, false)
	const deadline = time.Second
	rcv := httptest.NewServer(receiver.New(receiver.Config{MaxBodyBytes: 1 << 20, SignalTimeout: deadline, RetryAfter: 2 * time.Second,
		TaskQueue: testkit.TaskQueue}, pc, slog.New(slog.DiscardHandler), nil, veriff.NewWebhooks(veriff.DevAPIKey, []string{veriff.DevSharedSecret}), pb).Handler())
	defer rcv.Close()

	sessions, all := mixedSessions(t, st.Emulator, 16)
	acked := make([]bool, len(all))
	// A first part arrives while Temporal is up.
	for i := range len(all) / 3 {
		acked[i] = send(t, rcv.URL, all[i]) == http.StatusOK
	}
	px.setCut(true)
	for i := len(all) / 3; i < len(all); i++ {
		start := time.Now()
		req, _ := http.NewRequest(http.MethodPost, rcv.URL+all[i].path, strings.NewReader(string(all[i].body)))
		req.Header = all[i].header.Clone()
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Set("Content-Type", all[i].contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "2" {
			t.Fatalf("with Temporal down: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if took > deadline+time.Second {
			t.Fatalf("503 after %s: the answer must come within the signal deadline (%s)", took, deadline)
		}
	}
	// Nothing unacknowledged was started.
	for _, s := range sessions {
		wasAcked := false
		for i, d := range all {
			if acked[i] && string(d.body) != "" && strings.Contains(string(d.body), s.id[:8]) {
				wasAcked = true
			}
		}
		if wasAcked {
			continue
		}
		_, err := st.Temporal.GetDefaultClient().DescribeWorkflowExecution(context.Background(), workflows.WorkflowID(s.provider, s.id), "")
		var nf *serviceerror.NotFound
		if s.provider == "veriff" && !errors.As(err, &nf) {
			t.Fatalf("%s: a workflow exists for a session none of whose webhooks was acknowledged (%v)", s.id, err)
		}
	}
	px.setCut(false)

	// The provider redelivers what was not acknowledged, hourly in real
	// life, every 200 ms here, until each is.
	limit := time.Now().Add(90 * time.Second)
	for {
		left := 0
		for i := range all {
			if !acked[i] {
				acked[i] = send(t, rcv.URL, all[i]) == http.StatusOK
				if !acked[i] {
					left++
				}
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(limit) {
			t.Fatalf("%d webhooks still refused 90s after Temporal came back", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitAllClosed(t, st, sessions, 2*time.Minute)
	checkUsers(t, st, sessions)
}

// (b) The worker dies while activities run; a new one takes over: every
// session completes and each decision is applied once.
func TestFaultWorkerKilledMidActivity(t *testing.T) {
	st := faultStack(t, testkit.Options{NoWorker: true})
	var sessions []session
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 6 {
		key := sim.NewUUID()
		s := session{provider: "passbase", id: key, userID: "killed-" + key[:8], want: []string{"approved", "declined"}[i%2], decisions: 1}
		st.Emulator.Put(passbase.Name, key, passbase.IdentityObject(key, s.userID, s.want, now, now))
		// The first identity fetch hangs past the worker's death.
		st.Emulator.FailNext(key, emulator.Fault{Delay: 5 * time.Second})
		for _, b := range [][]byte{
			passbase.ProcessedBody(passbase.VocabularyLegacy, key, s.userID, "", now, now),
			passbase.ReviewedBody(passbase.VocabularyLegacy, key, s.userID, s.want, now, now),
		} {
			enc, _ := passbase.Encrypt(passbase.DevWebhookSecret, b)
			s.deliveries = append(s.deliveries, delivery{"/webhooks/passbase", "text/plain", nil, enc})
		}
		sessions = append(sessions, s)
	}
	w1 := st.StartWorker(0) // no grace: running activities are cut off
	for _, s := range sessions {
		for _, d := range s.deliveries {
			if code := send(t, st.Receiver.URL, d); code != http.StatusOK {
				t.Fatalf("webhook: %d", code)
			}
		}
	}
	// Wait until every session's identity fetch is in flight, then kill.
	limit := time.Now().Add(30 * time.Second)
	for _, s := range sessions {
		for st.Emulator.Calls(s.id) == 0 {
			if time.Now().After(limit) {
				t.Fatal("activities never started")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	w1.Stop()
	st.StartWorker(10 * time.Second)
	waitAllClosed(t, st, sessions, 2*time.Minute)
	checkUsers(t, st, sessions)
	for _, s := range sessions {
		if st.Emulator.Calls(s.id) < 2 {
			t.Fatalf("%s: the fetch was not retried after the worker died", s.id)
		}
	}
}

// (c) Provider API faults: 30% of calls fail (500, 429, 503) or are slower
// than the client's timeout, and every session still completes; a
// permanent 401 or 404 ends its session with a clear reason on the user and
// IdvStatus "error" in the Web UI, not retried forever.
func TestFaultProviderAPI(t *testing.T) {
	st := faultStack(t, testkit.Options{
		Emulator:        emulator.Config{FaultRate: 0.3, FaultDelay: 1500 * time.Millisecond},
		ProviderTimeout: time.Second,
	})
	sessions, all := mixedSessions(t, st.Emulator, 16)

	now := time.Now().UTC().Truncate(time.Second)
	refused, unknown := sim.NewUUID(), sim.NewUUID()
	st.Emulator.Put(passbase.Name, refused, passbase.IdentityObject(refused, "u-401", "approved", now, now))
	st.Emulator.FailNext(refused, emulator.Fault{Status: 401})
	for _, key := range []string{refused, unknown} {
		enc, _ := passbase.Encrypt(passbase.DevWebhookSecret, passbase.ReviewedBody(passbase.VocabularyLegacy, key, "u-"+key[:6], "approved", now, now))
		all = append(all, delivery{"/webhooks/passbase", "text/plain", nil, enc})
	}
	for _, d := range all {
		if code := send(t, st.Receiver.URL, d); code != http.StatusOK {
			t.Fatalf("webhook: %d", code)
		}
	}
	waitAllClosed(t, st, sessions, 3*time.Minute)
	checkUsers(t, st, sessions)

	for key, reason := range map[string]string{refused: "PASSBASE_API_KEY", unknown: "no such identity"} {
		wid := workflows.WorkflowID("passbase", key)
		if err := st.WaitClosed(context.Background(), wid, time.Minute); err != nil {
			t.Fatal(err)
		}
		u, err := st.Users.Get(context.Background(), "u-"+key[:6])
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != "error" || !strings.Contains(u.Reason, reason) {
			t.Fatalf("%s: user %q reason %q, want error with %q", key, u.Status, u.Reason, reason)
		}
		d, err := st.Temporal.GetDefaultClient().DescribeWorkflowExecution(context.Background(), wid, "")
		if err != nil {
			t.Fatal(err)
		}
		sa := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["IdvStatus"]
		if sa == nil || !strings.Contains(string(sa.GetData()), "error") {
			t.Fatalf("%s: IdvStatus %v, want error", key, sa)
		}
		// Transient faults before it may be retried (by the HTTP client and
		// by Temporal); the permanent answer must be the last call.
		answers := st.Emulator.Answers(key)
		if n := len(answers); n == 0 || (answers[n-1] != http.StatusUnauthorized && answers[n-1] != http.StatusNotFound) || permanentAnswers(answers) != 1 {
			t.Fatalf("%s: answers %v, want one permanent 401/404, last", key, answers)
		}
	}
}

// (d) The database is unavailable for a while (another process holds its
// write lock): user updates fail and retry, and nothing is lost.
func TestFaultDatabaseUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.db")
	st := faultStack(t, testkit.Options{DatabaseURL: "sqlite:" + path + "?_pragma=busy_timeout(50)"})
	sessions, all := mixedSessions(t, st.Emulator, 8)

	locker, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	ctx := context.Background()
	conn, err := locker.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		if code := send(t, st.Receiver.URL, d); code != http.StatusOK {
			t.Fatalf("webhook: %d", code)
		}
	}
	time.Sleep(3 * time.Second) // the database stays locked while sessions decide
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	waitAllClosed(t, st, sessions, 2*time.Minute)
	checkUsers(t, st, sessions)
	m := scrape(t, st.Admin.URL+"/metrics")
	if !hasPositive(m, "idv_activity_failures_total", `activity="ApplyAndHandOver"`, `kind="retryable"`) {
		t.Fatalf("no store write (ApplyAndHandOver) failed while the database was locked: the fault was not real\n%s", grepIdv(m))
	}
}

// permanentAnswers counts the answers no retry can change (4xx but 429).
func permanentAnswers(statuses []int) int {
	n := 0
	for _, s := range statuses {
		if s >= 400 && s < 500 && s != http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

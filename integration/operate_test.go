package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/httpapi"
	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/emulator"
	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/record"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/worker"
	"github.com/idvflow/idvflow/workflows"
)

// call sends an admin API request with the token and decodes a JSON
// answer of any status into v.
func call(t *testing.T, method, u string, body, v any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, r)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, u, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func auditOf(t *testing.T, st *testkit.Stack, query string) []admin.ActionView {
	t.Helper()
	var out struct{ Actions []admin.ActionView }
	if code := call(t, http.MethodGet, st.Admin.URL+"/v1/audit?"+query, nil, &out); code != http.StatusOK {
		t.Fatalf("audit: %d", code)
	}
	return out.Actions
}

// applied counts the changes to status on the user's history.
func applied(t *testing.T, st *testkit.Stack, user, status string) int {
	t.Helper()
	u, err := st.Users.Get(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, h := range u.History {
		if h.Kind == record.KindDecision && h.Status == status {
			n++
		}
	}
	return n
}

// A signed Veriff decision dated ahead of the receiver's clock (beyond
// record.MaxClockSkew) is refused with 400 and quarantined: its body
// sealed, its headers without the signature, its redelivery counted on the
// same entry. A re-drive before its time is refused again; once its time
// has come it is accepted, through the receiver's own SignalWithStart, and
// the decision is applied once; a second re-drive sends nothing. Each
// re-drive leaves an audit record, and the quarantine is counted.
func TestOperateQuarantineRedrive(t *testing.T) {
	st := faultStack(t, testkit.Options{PayloadKeys: payloadcodec.NewKey("q1")})
	session, attempt, user := sim.NewUUID(), sim.NewUUID(), "quarantined-user"
	decided := time.Now().Add(record.MaxClockSkew + 6*time.Second).UTC()
	d := veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(session, attempt, user, "approved", decided))
	for range 2 { // the provider delivers it again after the 400
		if code := send(t, st.Receiver.URL, d); code != http.StatusBadRequest {
			t.Fatalf("webhook dated ahead: %d, want 400", code)
		}
	}

	// The copy is written after the answer: wait for both deliveries.
	var list struct{ Quarantined []admin.QuarantineView }
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code := call(t, http.MethodGet, st.Admin.URL+"/v1/quarantine?provider=veriff&since=1h", nil, &list)
		if code == http.StatusOK && len(list.Quarantined) == 1 && list.Quarantined[0].Deliveries == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("quarantine list: %d %+v", code, list)
		}
	}
	q := list.Quarantined[0]
	if q.SessionID != session || q.Deliveries != 2 || !strings.Contains(q.Reason, "future") {
		t.Fatalf("quarantined: %+v", q)
	}
	var one admin.QuarantineView
	if code := call(t, http.MethodGet, st.Admin.URL+"/v1/quarantine/"+q.ID, nil, &one); code != http.StatusOK {
		t.Fatalf("quarantine get: %d", code)
	}
	if !one.BodyKept || !bytes.Contains(one.Body, []byte(session)) {
		t.Fatalf("quarantined body not readable: %+v", one)
	}
	for k := range one.Headers {
		if k != "Content-Type" && k != "User-Agent" && k != "Content-Length" && k != "X-Request-Id" {
			t.Fatalf("quarantine kept header %s", k)
		}
	}
	// The body is sealed in the store, not plain.
	raw, err := st.Users.QuarantineGet(context.Background(), q.ID)
	if err != nil || bytes.Contains(raw.Body, []byte(session)) || len(raw.Body) == 0 {
		t.Fatalf("stored body is not sealed (%v)", err)
	}

	var rd admin.RedriveView
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/quarantine/"+q.ID+"/redrive", nil, &rd); code != http.StatusUnprocessableEntity || rd.Outcome != "refused" {
		t.Fatalf("re-drive before its time: %d %+v", code, rd)
	}
	time.Sleep(time.Until(decided.Add(-record.MaxClockSkew)) + 500*time.Millisecond)
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/quarantine/"+q.ID+"/redrive", nil, &rd); code != http.StatusOK || rd.Outcome != "accepted" {
		t.Fatalf("re-drive once its time came: %d %+v", code, rd)
	}
	waitUser(t, st, user, "approved", 30*time.Second)
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/quarantine/"+q.ID+"/redrive", nil, &rd); code != http.StatusOK || !rd.Already {
		t.Fatalf("second re-drive: %d %+v", code, rd)
	}
	if err := st.WaitClosed(context.Background(), workflows.WorkflowID(veriff.Name, session), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := applied(t, st, user, "approved"); n != 1 {
		t.Fatalf("decision applied %d times, want once", n)
	}
	acts := auditOf(t, st, "target=quarantine:"+q.ID)
	if len(acts) != 3 || acts[0].Outcome != "refused" || acts[1].Outcome != "accepted" || acts[2].Outcome != "already" {
		t.Fatalf("audit: %+v", acts)
	}
	var u admin.UserView
	getJSON(t, st.Admin.URL+"/v1/users/"+user, adminToken, &u)
	if len(u.OperatorActions) == 0 {
		t.Fatalf("the user's record does not show the re-drive: %+v", u)
	}
	metrics := scrape(t, st.Admin.URL+"/metrics")
	if !strings.Contains(metrics, `idv_quarantined_total{provider="veriff",result="kept"} 2`) {
		t.Fatalf("quarantine not counted:\n%s", grepLines(metrics, "idv_quarantined"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A Passbase session whose worker had a wrong PASSBASE_BASE_URL (the
// provider answers 404: a permanent error) ends in error; it is listed as
// failed with the reason; after the fix (a worker with the right URL) a
// retry runs it again with its webhooks and the user gets the decision.
// A second retry finds nothing to retry; both leave audit records.
func TestOperateRetryAfterFix(t *testing.T) {
	st := faultStack(t, testkit.Options{NoWorker: true})
	bad := *st.Activities
	bad.Providers = map[string]activities.ProviderAPI{}
	for k, v := range st.Activities.Providers {
		bad.Providers[k] = v
	}
	wrong := &passbase.Config{BaseURL: st.Target.EmulatorURL + "/wrong-path", APIKey: passbase.DevAPIKey}
	bad.Providers[passbase.Name] = wrong.API(httpapi.NewClient(httpapi.Options{Timeout: 3 * time.Second}))
	badWorker := st.Temporal.NewWorkerWithOptions(testkit.TaskQueue, func(r sdkworker.Registry) {
		worker.Register(r, &bad, st.Workflow)
	}, worker.Options(time.Second))

	key, user := sim.NewUUID(), "retried-user"
	created := time.Now().Add(-10 * time.Minute).UTC()
	st.Emulator.Put(passbase.Name, key, passbase.IdentityObject(key, user, "approved", created, created.Add(5*time.Minute)))
	for _, plain := range [][]byte{
		passbase.ProcessedBody(passbase.VocabularyLegacy, key, user, "pending", created, created.Add(time.Minute)),
		passbase.ReviewedBody(passbase.VocabularyLegacy, key, user, "approved", created, created.Add(5*time.Minute)),
	} {
		postPassbase(t, st, plain)
	}
	id := workflows.WorkflowID(passbase.Name, key)
	if err := st.WaitClosed(context.Background(), id, time.Minute); err != nil {
		d, _ := st.Temporal.GetDefaultClient().DescribeWorkflowExecution(context.Background(), id, "")
		for _, a := range d.GetPendingActivities() {
			t.Logf("pending %s attempt %d: %s", a.GetActivityType().GetName(), a.GetAttempt(), a.GetLastFailure().GetMessage())
		}
		t.Fatal(err)
	}
	c := st.Temporal.GetDefaultClient()
	if s := status(t, c, id); s != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		t.Fatalf("session with the wrong base URL: %s, want failed", s)
	}
	badWorker.Stop()
	st.StartWorker(time.Second) // the fix: a worker with the right URL

	var failed struct {
		Sessions []operator.Session
	}
	waitListed(t, st, "state=failed&provider=passbase", key, &failed)
	if !strings.Contains(failed.Sessions[0].Why, "ended in error") {
		t.Fatalf("failed session's why: %+v", failed.Sessions[0])
	}

	var r operator.Result
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/sessions/passbase/"+key+"/retry", nil, &r); code != http.StatusOK || r.Outcome != operator.OutcomeRetried {
		t.Fatalf("retry: %d %+v", code, r)
	}
	waitUser(t, st, user, "approved", time.Minute)
	if err := st.WaitClosed(context.Background(), id, time.Minute); err != nil {
		t.Fatal(err)
	}
	if s := status(t, c, id); s != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("retried session: %s, want completed", s)
	}
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/sessions/passbase/"+key+"/retry", nil, &r); code != http.StatusOK || r.Outcome != operator.OutcomeNothing {
		t.Fatalf("second retry: %d %+v", code, r)
	}
	// The history says what happened: the error, then the decision, once.
	if n, e := applied(t, st, user, "approved"), applied(t, st, user, "error"); n != 1 || e != 1 {
		t.Fatalf("history: approved %d times, error %d times; want once each", n, e)
	}
	acts := auditOf(t, st, "target="+url.QueryEscape(id))
	if len(acts) != 2 || acts[0].Outcome != operator.OutcomeRetried || acts[1].Outcome != operator.OutcomeNothing {
		t.Fatalf("audit: %+v", acts)
	}
	// Each names the user, so her view lists them.
	for _, a := range acts {
		if a.UserID != user {
			t.Fatalf("retry audit record names user %q, want %q: %+v", a.UserID, user, a)
		}
	}
	var view admin.UserView
	if code := call(t, http.MethodGet, st.Admin.URL+"/v1/users/"+user, nil, &view); code != http.StatusOK || len(view.OperatorActions) != 2 {
		t.Fatalf("user view: %d, operator actions %+v; want the two retries", code, view.OperatorActions)
	}
}

func status(t *testing.T, c client.Client, id string) enumspb.WorkflowExecutionStatus {
	t.Helper()
	d, err := c.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	return d.GetWorkflowExecutionInfo().GetStatus()
}

// waitListed waits until GET /v1/sessions?query lists session (visibility
// is eventually consistent).
func waitListed(t *testing.T, st *testkit.Stack, query, session string, out *struct{ Sessions []operator.Session }) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code := call(t, http.MethodGet, st.Admin.URL+"/v1/sessions?"+query, nil, out); code != http.StatusOK {
			t.Fatalf("sessions: %d", code)
		}
		for _, s := range out.Sessions {
			if s.SessionID == session {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listed by %s: %+v", session, query, out.Sessions)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// 50 sessions (Veriff and Passbase) whose decision webhooks were lost in
// an outage wait; the provider's API has their decisions. The waiting
// sessions are found by the listing, a dry run shows exactly them and a
// token, the confirmed bulk resync runs at its rate with progress, and
// every user gets the decision once. One more lost session belongs to a
// user whose later session approved her: its older "declined", resynced
// with the rest, does not move her back. Each session's resync, and the
// operation's start, leave audit records.
func TestOperateBulkResyncAfterLostDecisions(t *testing.T) {
	wf := shortSessions()
	wf.DecisionPollAfter = 24 * time.Hour // the sessions would not find them alone
	st := faultStack(t, testkit.Options{Workflow: wf})
	base := time.Now().Add(-time.Hour).UTC()

	type lost struct{ provider, id, user, want string }
	var sessions []lost
	for i := range 50 {
		s := lost{user: fmt.Sprintf("outage-user-%02d", i), want: []string{"approved", "declined"}[i%2]}
		decided := base.Add(time.Duration(i) * time.Second)
		if i%2 == 0 {
			s.provider, s.id = veriff.Name, sim.NewUUID()
			attempt := sim.NewUUID()
			v, _ := json.Marshal(veriff.Verification(s.id, attempt, s.user, s.want, decided))
			st.Emulator.Put(veriff.Name, s.id, v)
			for _, code := range []int{veriff.Started, veriff.Submitted} {
				if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(s.id, attempt, s.user, code))); c != http.StatusOK {
					t.Fatalf("event: %d", c)
				}
			}
		} else {
			s.provider, s.id = passbase.Name, sim.NewUUID()
			created := decided.Add(-5 * time.Minute)
			st.Emulator.Put(passbase.Name, s.id, passbase.IdentityObject(s.id, s.user, s.want, created, decided))
			body, _ := passbase.Encrypt(passbaseSecret, passbase.ProcessedBody(passbase.VocabularyLegacy, s.id, s.user, "pending", created, created.Add(time.Minute)))
			if c := send(t, st.Receiver.URL, delivery{"/webhooks/passbase", "text/plain", nil, body}); c != http.StatusOK {
				t.Fatalf("processed: %d", c)
			}
		}
		sessions = append(sessions, s)
	}
	// The user whose newer session approved her; her older one's
	// "declined" webhook was lost.
	older, newer, attempt := sim.NewUUID(), sim.NewUUID(), sim.NewUUID()
	v, _ := json.Marshal(veriff.Verification(older, attempt, "approved-later", "declined", base.Add(-time.Hour)))
	st.Emulator.Put(veriff.Name, older, v)
	if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(older, attempt, "approved-later", veriff.Started))); c != http.StatusOK {
		t.Fatalf("event: %d", c)
	}
	if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(newer, sim.NewUUID(), "approved-later", "approved", base))); c != http.StatusOK {
		t.Fatalf("decision: %d", c)
	}
	waitUser(t, st, "approved-later", "approved", 30*time.Second)
	sessions = append(sessions, lost{veriff.Name, older, "approved-later", "approved"})

	// Found by the query: every lost session, and no other.
	want := map[string]bool{}
	for _, s := range sessions {
		want[workflows.WorkflowID(s.provider, s.id)] = true
	}
	var dry admin.DryRunView
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations",
			admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, OlderThan: "1s", DryRun: true}, &dry); code != http.StatusOK {
			t.Fatalf("dry run: %d %+v", code, dry)
		}
		if dry.Count == len(sessions) || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if dry.Count != len(sessions) || dry.Confirm == "" {
		t.Fatalf("dry run lists %d sessions, want %d", dry.Count, len(sessions))
	}
	for _, s := range dry.Sessions {
		if !want[s.WorkflowID] || !strings.Contains(s.Why, "no decision since") {
			t.Fatalf("dry run lists %s (%s)", s.WorkflowID, s.Why)
		}
	}
	// Nothing starts without the dry run's token.
	var refused map[string]any
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations",
		admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, OlderThan: "1s"}, &refused); code != http.StatusBadRequest {
		t.Fatalf("operation without a dry run: %d", code)
	}
	var op admin.OperationView
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations",
		admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, OlderThan: "1s", Confirm: dry.Confirm, RatePerSecond: 20}, &op); code != http.StatusAccepted {
		t.Fatalf("start: %d %+v", code, op)
	}
	deadline = time.Now().Add(2 * time.Minute)
	for op.State != operator.OperationCompleted {
		if time.Now().After(deadline) {
			t.Fatalf("operation: %+v", op)
		}
		time.Sleep(200 * time.Millisecond)
		call(t, http.MethodGet, st.Admin.URL+"/v1/operations/"+op.ID, nil, &op)
	}
	if op.Done != len(sessions) || op.Outcomes[operator.OutcomeSignalled] != len(sessions) {
		t.Fatalf("operation: %+v", op)
	}
	for _, s := range sessions {
		waitUser(t, st, s.user, s.want, time.Minute)
	}
	for _, s := range sessions[:50] {
		if n := applied(t, st, s.user, s.want); n != 1 {
			t.Fatalf("%s: decision applied %d times", s.user, n)
		}
	}
	// No user moved backwards: the resynced older decision did not win.
	u, err := st.Users.Get(context.Background(), "approved-later")
	if err != nil || u.Status != "approved" || u.SessionID != newer {
		t.Fatalf("approved-later: %+v (%v)", u, err)
	}
	acts := auditOf(t, st, "operation="+op.ID)
	if len(acts) != len(sessions)+1 || acts[0].Outcome != "started" {
		t.Fatalf("audit: %d records, want %d", len(acts), len(sessions)+1)
	}
	for _, a := range acts[1:] {
		if a.Action != "resync" || a.Outcome != operator.OutcomeSignalled || !want[a.Target] {
			t.Fatalf("audit record: %+v", a)
		}
	}
}

// A session whose details call keeps failing (the provider answers 503
// again and again) is listed as stuck, with the activity, its attempt and
// the last failure.
func TestOperateStuckSessionsListed(t *testing.T) {
	st := faultStack(t, testkit.Options{})
	key, user := sim.NewUUID(), "stuck-user"
	created := time.Now().Add(-10 * time.Minute).UTC()
	st.Emulator.Put(passbase.Name, key, passbase.IdentityObject(key, user, "approved", created, created.Add(5*time.Minute)))
	faults := make([]emulator.Fault, 40)
	for i := range faults {
		faults[i] = emulator.Fault{Status: http.StatusServiceUnavailable}
	}
	st.Emulator.FailNext(key, faults...)
	for _, plain := range [][]byte{
		passbase.ProcessedBody(passbase.VocabularyLegacy, key, user, "pending", created, created.Add(time.Minute)),
		passbase.ReviewedBody(passbase.VocabularyLegacy, key, user, "approved", created, created.Add(5*time.Minute)),
	} {
		body, _ := passbase.Encrypt(passbaseSecret, plain)
		if c := send(t, st.Receiver.URL, delivery{"/webhooks/passbase", "text/plain", nil, body}); c != http.StatusOK {
			t.Fatalf("webhook: %d", c)
		}
	}
	var out struct{ Sessions []operator.Session }
	deadline := time.Now().Add(time.Minute)
	for {
		waitListed(t, st, "state=stuck", key, &out)
		if s := out.Sessions[0]; strings.Contains(s.Why, "activity FetchDetails on attempt") && strings.Contains(s.Why, "503") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stuck why: %+v", out.Sessions)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Waiting sessions that are not stuck are not listed as stuck.
	for _, s := range out.Sessions {
		if s.SessionID != key {
			t.Fatalf("listed as stuck: %+v", s)
		}
	}
}

// A bulk operation at one session a second, cancelled after its first,
// stops: it reports cancelled with fewer done than listed, the sessions it
// did not reach are untouched, and the cancel is in the audit trail.
func TestOperateBulkCancel(t *testing.T) {
	wf := shortSessions()
	wf.DecisionPollAfter = 24 * time.Hour
	st := faultStack(t, testkit.Options{Workflow: wf})
	const n = 6
	for i := range n {
		lostDecision(t, st, fmt.Sprintf("cancel-user-%d", i))
	}
	dry := waitingDryRun(t, st, n)
	var op admin.OperationView
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations",
		admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, Confirm: dry.Confirm, RatePerSecond: 1}, &op); code != http.StatusAccepted {
		t.Fatalf("start: %d", code)
	}
	for op.Done == 0 {
		time.Sleep(50 * time.Millisecond)
		call(t, http.MethodGet, st.Admin.URL+"/v1/operations/"+op.ID, nil, &op)
	}
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations/"+op.ID+"/cancel", nil, &op); code != http.StatusOK {
		t.Fatalf("cancel: %d", code)
	}
	deadline := time.Now().Add(30 * time.Second)
	for op.State == operator.OperationRunning {
		if time.Now().After(deadline) {
			t.Fatalf("operation still running: %+v", op)
		}
		time.Sleep(100 * time.Millisecond)
		call(t, http.MethodGet, st.Admin.URL+"/v1/operations/"+op.ID, nil, &op)
	}
	if op.State != operator.OperationCancelled || op.Done >= n || op.Done < 1 {
		t.Fatalf("cancelled operation: %+v", op)
	}
	acts := auditOf(t, st, "operation="+op.ID)
	resyncs, cancels := 0, 0
	for _, a := range acts {
		switch a.Action {
		case "resync":
			resyncs++
		case "cancel":
			cancels++
		}
	}
	if resyncs != op.Done || cancels != 1 {
		t.Fatalf("audit: %d resyncs (done %d), %d cancels", resyncs, op.Done, cancels)
	}
	// Still waiting: the sessions it did not reach.
	var waiting struct{ Sessions []operator.Session }
	call(t, http.MethodGet, st.Admin.URL+"/v1/sessions?state=waiting", nil, &waiting)
	if len(waiting.Sessions) == 0 || len(waiting.Sessions) > n-op.Done {
		t.Fatalf("%d sessions still waiting after %d of %d were resynced", len(waiting.Sessions), op.Done, n)
	}
}

// lostDecision starts a Veriff session for user whose decision webhook is
// lost: the session waits, and the provider's API has the approval.
func lostDecision(t *testing.T, st *testkit.Stack, user string) {
	t.Helper()
	id, attempt := sim.NewUUID(), sim.NewUUID()
	v, _ := json.Marshal(veriff.Verification(id, attempt, user, "approved", time.Now().Add(-time.Minute)))
	st.Emulator.Put(veriff.Name, id, v)
	if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(id, attempt, user, veriff.Started))); c != http.StatusOK {
		t.Fatalf("event: %d", c)
	}
}

// waitingDryRun runs the dry run of a resync of the waiting sessions until
// it lists n (visibility is eventually consistent).
func waitingDryRun(t *testing.T, st *testkit.Stack, n int) admin.DryRunView {
	t.Helper()
	var dry admin.DryRunView
	for deadline := time.Now().Add(30 * time.Second); dry.Count != n; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("dry run: %d sessions, want %d", dry.Count, n)
		}
		call(t, http.MethodPost, st.Admin.URL+"/v1/operations", admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, DryRun: true}, &dry)
	}
	return dry
}

// A Veriff session that got a non-final decision (resubmission_requested:
// R1, "the run waits for the next decision") and whose final decision
// webhook was then lost in an outage waits, open, for that decision; the
// provider's API has it. The outage runbook's listing (state=waiting)
// finds it, and so the bulk resync's dry run reaches it, though
// visibility's IdvStatus is the non-final status.
func TestOperateListsWaitingAfterANonFinalDecision(t *testing.T) {
	wf := shortSessions()
	wf.DecisionPollAfter = 24 * time.Hour
	st := faultStack(t, testkit.Options{Workflow: wf})
	session, attempt, user := sim.NewUUID(), sim.NewUUID(), "resubmitted-user"
	decided := time.Now().Add(-time.Minute).UTC()
	if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(session, attempt, user, "resubmission_requested", decided))); c != http.StatusOK {
		t.Fatalf("decision: %d", c)
	}
	waitUser(t, st, user, "resubmission_requested", 30*time.Second)
	final, _ := json.Marshal(veriff.Verification(session, sim.NewUUID(), user, "approved", decided.Add(30*time.Second)))
	st.Emulator.Put(veriff.Name, session, final) // the lost webhook's decision, at the API

	var dry admin.DryRunView
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		if code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations",
			admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, OlderThan: "1s", DryRun: true}, &dry); code != http.StatusOK {
			t.Fatalf("dry run: %d", code)
		}
		if dry.Count == 1 || time.Now().After(deadline) {
			break
		}
	}
	var listed struct{ Sessions []operator.Session }
	call(t, http.MethodGet, st.Admin.URL+"/v1/sessions?state=polling", nil, &listed)
	if s := status(t, st.Temporal.GetDefaultClient(), workflows.WorkflowID(veriff.Name, session)); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("the session must still be open, waiting for its final decision: %s", s)
	}
	if dry.Count != 1 {
		t.Fatalf("a session open and waiting for its final decision is not in the waiting dry run (%d listed; polling lists %d): a bulk resync after the outage leaves it", dry.Count, len(listed.Sessions))
	}
}

// The same confirmed bulk request sent twice while the operation runs is
// one operation (the id is the token): the second answers 200 with its
// progress, not 202 as a new start (the SDK returns the running workflow
// without an error) nor, once the operation has made progress, 409 (the
// selection has changed), and the audit trail holds one "started" record.
func TestOperateRepeatedBulkStartIsOneOperationStartedOnce(t *testing.T) {
	wf := shortSessions()
	wf.DecisionPollAfter = 24 * time.Hour
	st := faultStack(t, testkit.Options{Workflow: wf})
	for i := range 3 {
		lostDecision(t, st, fmt.Sprintf("rep-%d", i))
	}
	dry := waitingDryRun(t, st, 3)
	req := admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, Confirm: dry.Confirm, RatePerSecond: 1}
	var first, second admin.OperationView
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations", req, &first); code != http.StatusAccepted {
		t.Fatalf("start: %d", code)
	}
	// The operator's retry, once the operation has done some of its work
	// (so the selection is not what it was confirmed on any more).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var p admin.OperationView
		if call(t, http.MethodGet, st.Admin.URL+"/v1/operations/"+first.ID, nil, &p); p.Done >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the operation did no work")
		}
	}
	code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations", req, &second)
	starts := 0
	for _, a := range auditOf(t, st, "operation="+first.ID) {
		if a.Action == "bulk-resync" && a.Outcome == "started" {
			starts++
		}
	}
	if second.ID != first.ID {
		t.Fatalf("second request started another operation: %s, %s", first.ID, second.ID)
	}
	if starts != 1 || code != http.StatusOK {
		t.Fatalf("one operation, but the repeat answered %d (want 200 with its progress) and the audit trail holds %d \"started\" records", code, starts)
	}
}

// listedBy says whether GET /v1/sessions?query lists session now.
func listedBy(t *testing.T, st *testkit.Stack, query, session string) bool {
	t.Helper()
	var out struct{ Sessions []operator.Session }
	if code := call(t, http.MethodGet, st.Admin.URL+"/v1/sessions?"+query, nil, &out); code != http.StatusOK {
		t.Fatalf("sessions?%s: %d", query, code)
	}
	for _, s := range out.Sessions {
		if s.SessionID == session {
			return true
		}
	}
	return false
}

// A session reset past its first workflow task (the bad-deploy runbook's
// reset by build id goes back to the first task the bad build completed)
// has a new open run whose visibility StartTime is the reset, and an old
// run closed as Terminated, not ContinuedAsNew. "waiting older than X"
// asks visibility for StartTime < cutoff; the session, waiting since long
// before the cutoff (its state query says so), stays in the listing, and
// in the outage runbook's bulk resync, though X has not passed since the
// reset.
func TestOperateResetSessionStaysInWaitingOlderThan(t *testing.T) {
	wf := shortSessions()
	wf.DecisionPollAfter = 24 * time.Hour
	st := faultStack(t, testkit.Options{Workflow: wf})
	tc := st.Temporal.GetDefaultClient()
	ctx := context.Background()
	session, attempt, user := sim.NewUUID(), sim.NewUUID(), "reset-user"
	began := time.Now()
	if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(session, attempt, user, veriff.Started))); c != http.StatusOK {
		t.Fatalf("started: %d", c)
	}
	time.Sleep(time.Second)
	if c := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.EventBody(session, attempt, user, veriff.Submitted))); c != http.StatusOK {
		t.Fatalf("submitted: %d", c)
	}
	wid := workflows.WorkflowID(veriff.Name, session)
	// Wait until the session is 12s old: waiting older than 10s lists it.
	time.Sleep(time.Until(began.Add(12 * time.Second)))
	var before struct{ Sessions []operator.Session }
	waitListed(t, st, "state=waiting&older_than=10s", session, &before)

	// Reset to the run's last completed workflow task (as a reset by build
	// id does when the bad build completed a later task than the first).
	d, err := tc.DescribeWorkflowExecution(ctx, wid, "")
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	it := tc.GetWorkflowHistory(ctx, wid, d.GetWorkflowExecutionInfo().GetExecution().GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			last = ev.GetEventId()
		}
	}
	resp, err := tc.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: st.Temporal.GetDefaultNamespace(), WorkflowExecution: d.GetWorkflowExecutionInfo().GetExecution(),
		Reason: "bad deploy", WorkflowTaskFinishEventId: last, RequestId: "reset-" + session,
	})
	if err != nil {
		t.Fatal(err)
	}
	resetAt := time.Now()
	// The session is still open and waiting; its state says since when.
	var view struct{ Sessions []operator.Session }
	listed := false
	for time.Since(resetAt) < 6*time.Second && !listed {
		time.Sleep(500 * time.Millisecond)
		listed = listedBy(t, st, "state=waiting&older_than=10s", session)
	}
	call(t, http.MethodGet, st.Admin.URL+"/v1/sessions?state=waiting", nil, &view)
	var startedAt time.Time
	for _, s := range view.Sessions {
		if s.SessionID == session {
			startedAt = s.StartedAt
		}
	}
	if s := status(t, tc, wid); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("session after reset: %s", s)
	}
	var dry admin.DryRunView
	call(t, http.MethodPost, st.Admin.URL+"/v1/operations",
		admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, OlderThan: "10s", DryRun: true}, &dry)
	if !listed {
		t.Fatalf("session began %s ago (at %s; its state query: started %s), open and waiting after a reset (run %s), is not listed by state=waiting&older_than=10s (listed before the reset); the bulk dry run finds %d sessions",
			time.Since(began).Round(time.Second), began.UTC().Format(time.RFC3339), startedAt.Format(time.RFC3339), resp.GetRunId(), dry.Count)
	}
}

// Cancelling an operation that has already completed changes nothing and
// answers its state. Server v1.32.1 answers RequestCancelWorkflowExecution
// on a closed run with success (a no-op, "the request to cancel this
// workflow is a success even if the target workflow has already
// finished"); still no "cancel … requested" record goes to the audit trail
// for an operation nothing can cancel any more, nor one for each repeat.
func TestOperateCancelOfACompletedOperationLeavesNoRecord(t *testing.T) {
	wf := shortSessions()
	wf.DecisionPollAfter = 24 * time.Hour
	st := faultStack(t, testkit.Options{Workflow: wf})
	lostDecision(t, st, "cancel-closed-user")
	dry := waitingDryRun(t, st, 1)
	var op admin.OperationView
	if code := call(t, http.MethodPost, st.Admin.URL+"/v1/operations",
		admin.OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, Confirm: dry.Confirm}, &op); code != http.StatusAccepted {
		t.Fatalf("start: %d", code)
	}
	for deadline := time.Now().Add(30 * time.Second); op.State != operator.OperationCompleted; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("operation: %+v", op)
		}
		call(t, http.MethodGet, st.Admin.URL+"/v1/operations/"+op.ID, nil, &op)
	}
	codes := []int{}
	for range 2 {
		var after admin.OperationView
		codes = append(codes, call(t, http.MethodPost, st.Admin.URL+"/v1/operations/"+op.ID+"/cancel", nil, &after))
	}
	var records []admin.ActionView
	for _, a := range auditOf(t, st, "operation="+op.ID) {
		if a.Action == "cancel" {
			records = append(records, a)
		}
	}
	if len(records) != 0 {
		t.Fatalf("cancel of a completed operation answered %v, and the audit trail holds %d cancel records: %+v", codes, len(records), records)
	}
}

package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/internal/userref"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/persona"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/sumsub"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/simulator"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"

	"github.com/idvflow/idvflow/internal/testlog"
)

// personal is what the simulated payloads carry about the person: none of
// it may reach Temporal or a log line.
var personal = []string{
	sim.FirstName, sim.LastName, sim.DateOfBirth, sim.DocumentNumber,
	"simona.testperson@example.com", "192.0.2.10",
}

func rawHistory(t *testing.T, st *testkit.Stack, workflowID string) []byte {
	t.Helper()
	it := st.Temporal.GetDefaultClient().GetWorkflowHistory(context.Background(), workflowID, "", false,
		enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	b, err := protojson.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runEveryProvider(t *testing.T, st *testkit.Stack) []simulator.Session {
	t.Helper()
	ctx := context.Background()
	vf, err := st.Target.Run(ctx, veriff.Scenario{Outcome: "declined", UserID: "priv-vf", Events: true, Watchlist: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := st.Target.Run(ctx, passbase.Scenario{Outcome: "approved", UserID: "priv-pb", Legacy: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	pe, err := st.Target.Run(ctx, persona.Scenario{Outcome: "approved", UserID: "priv-pe"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	// A declined applicant: its reviewResult carries the reviewers'
	// comments (made-up personal data in them), which are never decoded.
	ss, err := st.Target.Run(ctx, sumsub.Scenario{Outcome: "declined", UserID: "priv-ss"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []simulator.Session{vf, pb, pe, ss} {
		if err := st.WaitClosed(ctx, s.WorkflowID, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	return []simulator.Session{vf, pb, pe, ss}
}

func shortSessions() workflows.Config {
	wf := workflows.DefaultConfig()
	wf.LateEventWindow, wf.ProcessedGrace = time.Second, time.Second
	return wf
}

// TestNoPersonalDataInTemporalOrLogs reads the raw history of finished
// sessions from the server, and every log line of the run, and finds no
// personal data and no configured secret; with IDV_PAYLOAD_KEYS the
// payloads are ciphertext, and the admin API's codec endpoint decodes them
// for the Web UI.
func TestNoPersonalDataInTemporalOrLogs(t *testing.T) {
	var logs testlog.Buffer
	key := payloadcodec.NewKey("test-1")
	st, err := testkit.Start(context.Background(), testkit.Options{
		Workflow: shortSessions(), T: t, PayloadKeys: key,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	sessions := runEveryProvider(t, st)

	for _, s := range sessions {
		text := historyText(t, rawHistory(t, st, s.WorkflowID))
		for _, p := range personal {
			if strings.Contains(text, p) {
				t.Fatalf("%s: raw history contains %q", s.WorkflowID, p)
			}
		}
		// Encrypted: not even the session id is readable in any payload.
		if strings.Contains(payloadText(t, rawHistory(t, st, s.WorkflowID)), s.ID) {
			t.Fatalf("%s: payloads are readable", s.WorkflowID)
		}
		// Metadata values are whole base64 strings in the JSON history.
		if !strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(payloadcodec.MetadataEncoding))) {
			t.Fatalf("%s: no encrypted payload in the history", s.WorkflowID)
		}
	}

	t.Run("codec endpoint decodes for the Web UI", func(t *testing.T) {
		raw := rawHistory(t, st, sessions[0].WorkflowID)
		var h historypb.History
		if err := protojson.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		input := h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
		body, _ := protojson.Marshal(input)
		// Preflight from the UI's origin.
		pre, _ := http.NewRequest(http.MethodOptions, st.Admin.URL+"/codec/decode", nil)
		pre.Header.Set("Origin", "http://ui.test")
		pre.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(pre)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != "http://ui.test" {
			t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
		}
		req, _ := http.NewRequest(http.MethodPost, st.Admin.URL+"/codec/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "http://ui.test")
		if resp, _ := http.DefaultClient.Do(req); resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatal("the codec endpoint answered without the admin token")
		}
		req, _ = http.NewRequest(http.MethodPost, st.Admin.URL+"/codec/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testkit.AdminToken)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		decoded, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var payloads struct {
			Payloads []struct {
				Data []byte `json:"data"`
			} `json:"payloads"`
		}
		if err := json.Unmarshal(decoded, &payloads); err != nil || len(payloads.Payloads) != 1 {
			t.Fatalf("decode: %d %s", resp.StatusCode, decoded)
		}
		if !strings.Contains(string(payloads.Payloads[0].Data), sessions[0].ID) {
			t.Fatalf("decoded input %s lacks the session id", payloads.Payloads[0].Data)
		}
	})

	t.Run("logs", func(t *testing.T) {
		out := logs.String()
		if !strings.Contains(out, "msg=webhook") || !strings.Contains(out, "user record updated") {
			t.Fatalf("the run logged too little to prove anything:\n%s", out)
		}
		secrets := []string{veriff.DevSharedSecret, passbase.DevWebhookSecret, passbase.DevAPIKey, persona.DevWebhookSecret, persona.DevAPIKey,
			sumsub.DevWebhookSecret, sumsub.DevAppToken, sumsub.DevSecretKey, testkit.AdminToken,
			testkit.NotifySecret, strings.SplitN(key, ":", 2)[1]}
		for _, s := range append(append([]string{}, personal...), secrets...) {
			if strings.Contains(out, s) {
				t.Fatalf("logs contain %q", s)
			}
		}
	})
}

// TestNoPersonalDataWithoutCodec: even with payloads in plain JSON, the
// parsers never carry personal fields into Temporal.
func TestNoPersonalDataWithoutCodec(t *testing.T) {
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: shortSessions(), T: t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	for _, s := range runEveryProvider(t, st) {
		text := historyText(t, rawHistory(t, st, s.WorkflowID))
		if !strings.Contains(text, s.ID) {
			t.Fatalf("%s: the plain history should show the session id (is the text decoded?)", s.WorkflowID)
		}
		for _, p := range personal {
			if strings.Contains(text, p) {
				t.Fatalf("%s: raw history contains %q", s.WorkflowID, p)
			}
		}
	}
}

// payloadText is every payload's data in a history, base64-decoded.
func payloadText(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "data" || k == "details") {
					if d, err := base64.StdEncoding.DecodeString(s); err == nil {
						b.Write(d)
						b.WriteByte('\n')
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return b.String()
}

// historyText is the raw history and its decoded payloads, to search.
func historyText(t *testing.T, raw []byte) string {
	return string(raw) + "\n" + payloadText(t, raw)
}

// With IDV_USER_ID_ATTRIBUTE=hmac, Temporal's visibility (which the payload
// codec does not encrypt) holds a keyed hash of the app's user id, never
// the id; the admin API gives the query that still finds the sessions.
func TestUserIDAttributeHashed(t *testing.T) {
	const key = "k9Jq2LmZ0xVb7RtYc4WnE1sPaHuD6fGo"
	wf := workflows.DefaultConfig()
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: wf, T: t,
		Env: map[string]string{"IDV_USER_ID_ATTRIBUTE": "hmac", "IDV_USER_ID_KEY": key}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	user, id := "ann.hashed@example.com", "0d0d0d0d-0000-4000-8000-000000000001"
	now := time.Now().UTC().Truncate(time.Millisecond)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(id, "a", user, "approved", now))); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	var u admin.UserView
	deadline := time.Now().Add(30 * time.Second)
	for getJSON(t, st.Admin.URL+"/v1/users/"+url.PathEscape(user), adminToken, &u) != http.StatusOK || u.Status != "approved" {
		if time.Now().After(deadline) {
			t.Fatal("the user never reached approved")
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := userref.Config{Mode: "hmac", Key: key}.New().Value(user)
	if u.SessionsQuery != `IdvUserId = "`+want+`"` {
		t.Fatalf("sessions query %q, want the hashed id %q", u.SessionsQuery, want)
	}
	c := st.Temporal.GetDefaultClient()
	desc, err := c.DescribeWorkflowExecution(context.Background(), workflows.WorkflowID(veriff.Name, id), "")
	if err != nil {
		t.Fatal(err)
	}
	raw := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["IdvUserId"]
	if raw == nil || strings.Contains(string(raw.GetData()), user) || !strings.Contains(string(raw.GetData()), want) {
		t.Fatalf("IdvUserId holds %s, want %s and never the id", raw.GetData(), want)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: u.SessionsQuery})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetExecutions()) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sessions query found %d sessions, want 1", len(resp.GetExecutions()))
		}
	}
}

package integration

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	sdkpb "go.temporal.io/api/sdk/v1"

	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"

	"github.com/idvflow/idvflow/internal/testlog"
)

// TestObservability follows one Veriff session through metrics, one trace,
// the logs and the Web UI's details.
func TestObservability(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	var logs testlog.Buffer
	wf := workflows.DefaultConfig()
	wf.LateEventWindow = time.Second
	wf.ProcessedGrace = time.Second
	st, err := testkit.Start(context.Background(), testkit.Options{
		Workflow: wf, T: t, Spans: spans, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ctx := context.Background()

	sess, err := st.Target.Run(ctx, veriff.Scenario{Outcome: "approved", UserID: "obs-user"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// A permanent activity failure: a Passbase identity the API does not know.
	key := sim.NewUUID()
	if code, _, err := st.Target.Send(ctx, "passbase", passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", time.Now(), time.Now())); err != nil || code != 200 {
		t.Fatalf("passbase webhook: %d %v", code, err)
	}
	if code, _, _ := st.Target.Send(ctx, "veriff", []byte(`{"verification":{"status":"approved"}}`)); code != 400 {
		t.Fatalf("malformed: %d", code)
	}
	for _, id := range []string{sess.WorkflowID, "passbase:" + key} {
		if err := st.WaitClosed(ctx, id, time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("UI summary and details", func(t *testing.T) {
		c := st.Temporal.GetDefaultClient()
		d, err := c.DescribeWorkflowExecution(ctx, sess.WorkflowID, "")
		if err != nil {
			t.Fatal(err)
		}
		var summary string
		if p := d.GetExecutionConfig().GetUserMetadata().GetSummary(); p != nil {
			_ = json.Unmarshal(p.GetData(), &summary)
		}
		if summary != "veriff session for user obs-user" {
			t.Fatalf("static summary %q", summary)
		}
		v, err := c.QueryWorkflow(ctx, sess.WorkflowID, "", "__temporal_workflow_metadata")
		if err != nil {
			t.Fatal(err)
		}
		var md sdkpb.WorkflowMetadata
		if err := v.Get(&md); err != nil {
			t.Fatal(err)
		}
		details := md.GetCurrentDetails()
		for _, want := range []string{"**veriff** session", "`obs-user`", "**Status:** approved", "decision (`decision`)", "**Next:** done"} {
			if !strings.Contains(details, want) {
				t.Fatalf("current details lack %q:\n%s", want, details)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get(st.Admin.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("/metrics without the admin token: %d", resp.StatusCode)
		}
		want := []struct {
			name   string
			labels []string
		}{
			{"idv_webhooks_total", []string{`outcome="accepted"`, `provider="veriff"`, `type="decision"`}},
			{"idv_webhooks_total", []string{`outcome="accepted"`, `provider="passbase"`, `type="VERIFICATION_REVIEWED"`}},
			{"idv_webhooks_total", []string{`outcome="malformed"`, `provider="veriff"`, `type="unknown"`}},
			{"idv_webhook_ack_seconds_count", []string{`outcome="accepted"`, `provider="veriff"`}},
			// The task queue as it is named, not sanitised to "idv_test".
			{"idv_session_events_total", []string{`kind="decision"`, `provider="veriff"`, `task_queue="` + testkit.TaskQueue + `"`}},
			{"idv_session_events_repeated_total", []string{`kind="decision"`, `provider="veriff"`}},
			{"idv_sessions_finished_total", []string{`provider="veriff"`, `status="approved"`}},
			{"idv_sessions_finished_total", []string{`provider="passbase"`, `status="error"`}},
			{"idv_activity_failures_total", []string{`activity="FetchDetails"`, `kind="ProviderAPIError"`}},
			{"temporal_workflow_completed_total", nil},
		}
		// The SDK's counters reach the registry on tally's one-second flush.
		deadline := time.Now().Add(10 * time.Second)
		for {
			m := scrape(t, st.Admin.URL+"/metrics")
			var missing []string
			for _, w := range want {
				if !hasPositive(m, w.name, w.labels...) {
					missing = append(missing, w.name+"{"+strings.Join(w.labels, ",")+"}")
				}
			}
			if len(missing) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/metrics lacks %s\n%s", strings.Join(missing, "; "), grepIdv(m))
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("one trace from webhook to activity", func(t *testing.T) {
		byTrace := map[string][]string{}
		var httpTrace string
		for _, s := range spans.GetSpans() {
			id := s.SpanContext.TraceID().String()
			byTrace[id] = append(byTrace[id], s.Name)
			if strings.HasPrefix(s.Name, "POST /webhooks/veriff") {
				for _, a := range s.Attributes {
					if string(a.Key) == "http.response.status_code" && a.Value.AsInt64() == 200 && httpTrace == "" {
						httpTrace = id
					}
				}
			}
		}
		names := strings.Join(byTrace[httpTrace], " | ")
		for _, want := range []string{"POST /webhooks/veriff", "SignalWithStartWorkflow:VerificationWorkflow",
			"RunWorkflow:VerificationWorkflow", "StartActivity:ApplyAndHandOver", "RunActivity:ApplyAndHandOver"} {
			if !strings.Contains(names, want) {
				t.Fatalf("the webhook's trace lacks %q: %s", want, names)
			}
		}
	})

	t.Run("logs carry request and workflow ids, never the body", func(t *testing.T) {
		out := logs.String()
		var receiverLine, workerLine bool
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "msg=webhook") && strings.Contains(line, "request_id=") &&
				strings.Contains(line, "workflow_id="+sess.WorkflowID) {
				receiverLine = true
			}
			if strings.Contains(line, "user record updated") && strings.Contains(line, "WorkflowID="+sess.WorkflowID) {
				workerLine = true
			}
		}
		if !receiverLine || !workerLine {
			t.Fatalf("receiver line with ids: %v, worker line with workflow id: %v\n%s", receiverLine, workerLine, out)
		}
		for _, pii := range []string{sim.LastName, sim.DocumentNumber, sim.DateOfBirth, veriff.DevSharedSecret} {
			if strings.Contains(out, pii) {
				t.Fatalf("logs contain %q", pii)
			}
		}
	})
}

func grepIdv(m string) string {
	var out []string
	for _, l := range strings.Split(m, "\n") {
		if strings.HasPrefix(l, "idv_") && !strings.Contains(l, "_bucket") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+testkit.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// hasPositive reports whether a sample of name carries every label and a
// value above zero.
func hasPositive(m, name string, labels ...string) bool {
	for _, line := range strings.Split(m, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		fields := strings.Fields(line)
		if ok && len(fields) > 0 && fields[len(fields)-1] != "0" {
			return true
		}
	}
	return false
}

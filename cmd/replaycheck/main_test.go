package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"

	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/worker"
	"github.com/idvflow/idvflow/workflows"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode) // the stack's receiver and admin API
	m.Run()
}

const (
	probeName  = "ReplaycheckProbe"
	probeQueue = "replaycheck-test"
	probeQuery = `WorkflowType="ReplaycheckProbe"`
)

type probeInput struct {
	Name string
	// Hold leaves the run open after its activity, waiting for a signal:
	// replaycheck's main use is the runs still in flight.
	Hold bool
}

// probeV1 is the code the probe runs ran: an activity, then a timer.
func probeV1(ctx workflow.Context, in probeInput) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var greeting string
	if err := workflow.ExecuteActivity(ctx, "ReplaycheckGreet", in.Name).Get(ctx, &greeting); err != nil {
		return "", err
	}
	if in.Hold {
		workflow.GetSignalChannel(ctx, "release").Receive(ctx, nil)
	}
	return greeting, workflow.Sleep(ctx, time.Millisecond)
}

// incompatible are changes to probeV1 without workflow.GetVersion.
var incompatible = map[string]func(workflow.Context, probeInput) (string, error){
	// The timer moved before the activity.
	"timer first": func(ctx workflow.Context, in probeInput) (string, error) {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return "", err
		}
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
		var greeting string
		err := workflow.ExecuteActivity(ctx, "ReplaycheckGreet", in.Name).Get(ctx, &greeting)
		return greeting, err
	},
	// Another activity where the first ran.
	"other activity": func(ctx workflow.Context, in probeInput) (string, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
		return "", workflow.ExecuteActivity(ctx, "ReplaycheckAudit", in.Name).Get(ctx, nil)
	},
}

func registerProbe(wf func(workflow.Context, probeInput) (string, error)) func(sdkworker.WorkflowRegistry) {
	return func(r sdkworker.WorkflowRegistry) {
		r.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: probeName})
	}
}

// TestCheckFindsIncompatibleChange runs probe workflows (payloads encrypted,
// as in production; one left open), then replays their histories with the
// same code, with incompatible versions, and without the payload keys.
func TestCheckFindsIncompatibleChange(t *testing.T) {
	ctx := context.Background()
	codec, err := payloadcodec.ParseKeys(payloadcodec.NewKey("k1"))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := temporalconn.Options(slog.New(slog.DiscardHandler), nil, codec)
	if err != nil {
		t.Fatal(err)
	}
	ts := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(opts))
	ts.NewWorkerWithOptions(probeQueue, func(r sdkworker.Registry) {
		registerProbe(probeV1)(r)
		r.RegisterActivityWithOptions(func(_ context.Context, name string) (string, error) {
			return "hello " + name, nil
		}, activity.RegisterOptions{Name: "ReplaycheckGreet"})
	}, worker.Options(5*time.Second))
	c := ts.GetDefaultClient()

	var ids []string
	for i, hold := range []bool{false, false, true} {
		id := fmt.Sprintf("probe-%d", i)
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: probeQueue}, probeName, probeInput{Name: id, Hold: hold})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if hold {
			waitActivityDone(t, c, id)
			continue
		}
		var got string
		if err := run.Get(ctx, &got); err != nil || got != "hello "+id {
			t.Fatalf("%s: %q, %v", id, got, err)
		}
	}
	waitListed(t, c, probeQuery, len(ids))

	replay := func(t *testing.T, r sdkworker.WorkflowReplayer, n int) (report, string) {
		t.Helper()
		var out bytes.Buffer
		rep, err := check(ctx, c, r, selection{query: probeQuery, n: n}, &out)
		if err != nil {
			t.Fatalf("check: %v\n%s", err, out.String())
		}
		t.Logf("output:\n%s", out.String())
		return rep, out.String()
	}

	t.Run("same code replays", func(t *testing.T) {
		rep, out := replay(t, mustReplayer(t, opts, registerProbe(probeV1)), 500)
		if rep.failed() || rep.Replayed != len(ids) {
			t.Fatalf("report %+v, want %d replayed and no failures", rep, len(ids))
		}
		if !strings.HasSuffix(out, "replayed 3 histories: 0 non-deterministic, 0 errors\n") {
			t.Fatalf("summary: %q", out)
		}
	})

	t.Run("-n bounds the histories", func(t *testing.T) {
		rep, _ := replay(t, mustReplayer(t, opts, registerProbe(probeV1)), 2)
		if rep.Replayed != 2 || rep.failed() {
			t.Fatalf("report %+v, want 2 replayed", rep)
		}
	})

	for name, wf := range incompatible {
		t.Run(name+" is non-deterministic", func(t *testing.T) {
			rep, out := replay(t, mustReplayer(t, opts, registerProbe(wf)), 500)
			if !rep.failed() {
				t.Fatal("no failure: the command would exit 0")
			}
			for _, id := range ids {
				f, ok := failureOf(rep, id)
				if !ok || !f.NonDeterministic || f.RunID == "" {
					t.Errorf("%s: failure %+v (found %v), want non-deterministic with its run id", id, f, ok)
					continue
				}
				if line := "NON-DETERMINISTIC " + probeName + " " + id + " (run " + f.RunID + "): "; !strings.Contains(out, line) {
					t.Errorf("output lacks %q", line)
				}
			}
			if !strings.HasSuffix(out, "replayed 3 histories: 3 non-deterministic, 0 errors\n") {
				t.Fatalf("summary: %q", out)
			}
		})
	}

	t.Run("without the payload keys it is an error, not non-determinism", func(t *testing.T) {
		plain := opts
		plain.DataConverter = temporalconn.Guarded(nil)
		rep, out := replay(t, mustReplayer(t, plain, registerProbe(probeV1)), 500)
		if len(rep.Failures) != len(ids) || rep.count(true) != 0 {
			t.Fatalf("report %+v, want %d errors", rep, len(ids))
		}
		if !strings.Contains(out, "IDV_PAYLOAD_KEYS") {
			t.Fatalf("the errors do not point at the keys:\n%s", out)
		}
	})
}

// TestRealWorkflowsReplay runs a Veriff session on the whole stack
// (encrypted payloads) and checks it the way main does: connection and
// keys from temporalconn.Config, idvflow's own registration, the default
// query.
func TestRealWorkflowsReplay(t *testing.T) {
	ctx := context.Background()
	key := payloadcodec.NewKey("k1")
	st, err := testkit.Start(ctx, testkit.Options{T: t, PayloadKeys: key, Workflow: workflows.Config{
		ProcessedGrace: time.Second, DecisionPollAfter: 2 * time.Second, PollInterval: time.Second,
		PollMaxInterval: 2 * time.Second, SessionExpiry: 6 * time.Second, LateEventWindow: 2 * time.Second,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	id, att, user := sim.NewUUID(), sim.NewUUID(), "u-replaycheck"
	at := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	v, _ := json.Marshal(veriff.Verification(id, att, user, "approved", at))
	st.Emulator.Put(veriff.Name, id, v)
	if code, body, err := st.Target.Send(ctx, veriff.Name, veriff.DecisionBody(id, att, user, "approved", at)); err != nil || code != 200 {
		t.Fatalf("webhook: %d %s %v", code, body, err)
	}
	wid := workflows.WorkflowID(veriff.Name, id)
	if err := st.WaitClosed(ctx, wid, time.Minute); err != nil {
		t.Fatal(err)
	}
	c := st.Temporal.GetDefaultClient()
	waitListed(t, c, fmt.Sprintf("WorkflowId=%q", wid), 1)

	cfg := &config{Temporal: temporalconn.Config{
		PayloadKeys: key, DisableFile: true,
		Env: temporalconn.EnvMap{"TEMPORAL_ADDRESS": st.Temporal.GetFrontendHostPort(), "TEMPORAL_NAMESPACE": st.Temporal.GetDefaultNamespace()},
	}}
	for _, q := range []struct {
		query string
		min   int
	}{
		{fmt.Sprintf("WorkflowId=%q", wid), 1},
		{defaultQuery, 1}, // the session, and the user's onboarding run if it has one
	} {
		var out bytes.Buffer
		rep, err := run(ctx, cfg, q.query, 500, &out)
		t.Logf("%s:\n%s", q.query, out.String())
		if err != nil {
			t.Fatal(err)
		}
		if rep.failed() || rep.Replayed < q.min {
			t.Fatalf("%s: report %+v, want at least %d replayed and no failures", q.query, rep, q.min)
		}
	}
}

func mustReplayer(t *testing.T, opts client.Options, register func(sdkworker.WorkflowRegistry)) sdkworker.WorkflowReplayer {
	t.Helper()
	r, err := newReplayer(opts.DataConverter, register)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func failureOf(rep report, workflowID string) (failure, bool) {
	for _, f := range rep.Failures {
		if f.WorkflowID == workflowID {
			return f, true
		}
	}
	return failure{}, false
}

// waitListed waits for visibility, which trails the histories, to list
// want runs for query.
func waitListed(t *testing.T, c client.Client, query string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err == nil && len(resp.GetExecutions()) >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("visibility lists %d runs for %s after 30s (%v), want %d", len(resp.GetExecutions()), query, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitActivityDone waits until a held probe run has recorded its activity's
// result, so its history has the command the incompatible code moves.
func waitActivityDone(t *testing.T, c client.Client, workflowID string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d, err := c.DescribeWorkflowExecution(context.Background(), workflowID, "")
		if err == nil && len(d.GetPendingActivities()) == 0 && d.GetWorkflowExecutionInfo().GetHistoryLength() >= 10 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never recorded its activity", workflowID)
}

// names records the workflow types a registration registers.
type names []string

func (n *names) RegisterWorkflow(any) { panic("every idvflow workflow is registered under its name") }
func (n *names) RegisterWorkflowWithOptions(_ any, o workflow.RegisterOptions) {
	*n = append(*n, o.Name)
}
func (n *names) RegisterDynamicWorkflow(any, workflow.DynamicRegisterOptions) {
	panic("idvflow registers no dynamic workflow")
}

// The default query selects every workflow type the worker runs, so the
// check before a deploy replays bulk operations as well as sessions and
// onboarding runs.
func TestDefaultQueryNamesEveryRegisteredWorkflowType(t *testing.T) {
	var registered names
	worker.RegisterWorkflows(&registered, workflows.DefaultConfig())
	if len(registered) < 3 {
		t.Fatalf("registered %q", registered)
	}
	for _, name := range registered {
		if !strings.Contains(defaultQuery, fmt.Sprintf("WorkflowType=%q", name)) {
			t.Errorf("default query %s leaves out %s", defaultQuery, name)
		}
	}
}

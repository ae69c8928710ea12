package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/internal/deployment"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/worker"
	"github.com/idvflow/idvflow/workflows"
)

// OnboardingWorkflow is pinned to the Worker Deployment version it started
// on (docs/production.md): a change's steps run as the build that took the
// change promised, with no patch. The replay check run before a deploy
// must therefore not replay a run pinned to another build against the new
// code: it would report the very change pinning allows as
// non-deterministic, for as long as any run of the old build is open.
func TestPinnedRunsAreNotReplayedAgainstAnotherBuild(t *testing.T) {
	ctx := context.Background()
	st, err := testkit.Start(ctx, testkit.Options{T: t, NoWorker: true, Workflow: workflows.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := st.Temporal.GetDefaultClient()

	cfg := worker.Config{TaskQueue: testkit.TaskQueue, NotifyURL: st.App.URL, ReviewStatuses: []string{"approved"},
		OnboardingIdle: time.Hour, Deployment: "idvflow-audit", BuildID: "v1", StopTimeout: time.Second}
	acts := *st.Activities
	starter := onboarding.Starter{Client: c, TaskQueue: testkit.TaskQueue}
	acts.Onboarding = starter
	wf := st.Workflow
	wf.Onboarding = cfg.Plan()
	w := sdkworker.New(c, testkit.TaskQueue, cfg.WorkerOptions())
	worker.Register(w, &acts, wf)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := deployment.SetCurrent(sctx, c, "idvflow-audit", "v1"); err != nil {
		t.Fatal(err)
	}

	// A v1 onboarding run waiting at its review gate.
	user := "user-audit-pinned"
	if err := starter.Hand(ctx, user, onboarding.Change{ID: "c-1", UserID: user, Provider: "veriff", SessionID: "s-1",
		Status: "approved", At: time.Now().UTC(), Verdict: true}); err != nil {
		t.Fatal(err)
	}
	id := onboarding.WorkflowID(user)
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err == nil && d.GetWorkflowExecutionInfo().GetVersioningInfo().GetBehavior() == enumspb.VERSIONING_BEHAVIOR_PINNED &&
			d.GetWorkflowExecutionInfo().GetHistoryLength() >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the onboarding never ran pinned on v1: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	query := `WorkflowType="` + onboarding.WorkflowName + `"`
	waitListed(t, c, query, 1)

	// v2's onboarding: a step added before the gate, without a patch
	// (what pinning is for).
	v2 := func(ctx workflow.Context, in onboarding.Input) error {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return err
		}
		return workflow.Await(ctx, func() bool { return false })
	}
	opts, err := temporalconn.Options(slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := mustReplayer(t, opts, func(reg sdkworker.WorkflowRegistry) {
		reg.RegisterWorkflowWithOptions(v2, workflow.RegisterOptions{Name: onboarding.WorkflowName})
	})
	var out bytes.Buffer
	rep, err := check(ctx, c, r, selection{query: query, n: 10, build: "v2"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("output:\n%s", out.String())
	if f, ok := failureOf(rep, id); ok && f.NonDeterministic {
		t.Fatalf("a run pinned to v1, which never runs the new build, is reported NON-DETERMINISTIC and fails the pre-deploy check")
	}
}

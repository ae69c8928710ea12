package integration

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/idvflow/idvflow/internal/testkit"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/worker"
	"github.com/idvflow/idvflow/workflows"
)

const rolloutDeployment = "idvflow"

// setCurrent makes build the deployment's current version, once its
// workers have polled (the server knows a version only then).
func setCurrent(t *testing.T, c client.Client, build string) {
	t.Helper()
	h := c.WorkerDeploymentClient().GetHandle(rolloutDeployment)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := h.SetCurrentVersion(context.Background(), client.WorkerDeploymentSetCurrentVersionOptions{BuildID: build})
		if err == nil {
			return
		}
		var notFound *serviceerror.NotFound
		var precondition *serviceerror.FailedPrecondition
		if time.Now().After(deadline) || !(errors.As(err, &notFound) || errors.As(err, &precondition)) {
			t.Fatalf("set current version %s: %v", build, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// versionOf is the build id and versioning behaviour of a workflow's
// newest run.
func versionOf(t *testing.T, c client.Client, workflowID string) (string, enumspb.VersioningBehavior) {
	t.Helper()
	d, err := c.DescribeWorkflowExecution(context.Background(), workflowID, "")
	if err != nil {
		t.Fatalf("describe %s: %v", workflowID, err)
	}
	v := d.GetWorkflowExecutionInfo().GetVersioningInfo()
	return v.GetDeploymentVersion().GetBuildId(), v.GetBehavior()
}

// waitFor polls cond for up to limit.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Issue 22, deploying new steps safely: two builds of the worker as
// versions of one Worker Deployment. v1 onboards with the notify step;
// v2 adds the review gate. An onboarding run started on v1 stays pinned
// to it and finishes as v1 promised (no gate) after v2 became current;
// new runs take v2; after a rollback to v1, new runs take v1 again while
// the run pinned to v2 still waits at its gate, served by v2's workers,
// until a person answers. Sessions auto-upgrade throughout.
func TestVersionedRollout(t *testing.T) {
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: onboardingFlow(), T: t, NoWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	c := st.Temporal.GetDefaultClient()
	startVersion := func(build string, review []string) {
		cfg := worker.Config{
			TaskQueue: testkit.TaskQueue, NotifyURL: st.App.URL, ReviewStatuses: review, OnboardingIdle: 2 * time.Second,
			Deployment: rolloutDeployment, BuildID: build, StopTimeout: time.Second,
		}
		acts := *st.Activities
		acts.Onboarding = onboarding.Starter{Client: c, TaskQueue: testkit.TaskQueue, Plan: cfg.Plan()}
		w := sdkworker.New(c, testkit.TaskQueue, cfg.WorkerOptions())
		worker.Register(w, &acts, st.Workflow)
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}
	approve := func(user, sessionID string) {
		t.Helper()
		st.Emulator.Put(veriff.Name, sessionID, nil)
		if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", time.Now().UTC()))); code != http.StatusOK {
			t.Fatalf("approval of %s: %d", user, code)
		}
		waitUser(t, st, user, "approved", 20*time.Second)
	}
	onboardingOf := func(user string) string { return onboarding.WorkflowID(user) }
	waiting := func(user string) string {
		var ob onboarding.State
		getJSON(t, st.Admin.URL+"/v1/onboarding/"+user, adminToken, &ob)
		return ob.Waiting
	}

	// v1, current; an onboarding in flight on it (the app is down).
	startVersion("v1", nil)
	setCurrent(t, c, "v1")
	st.AppDown.Store(true)
	approve("user-rollout-1", "0f0f0f0f-0000-4000-8000-000000000001")
	waitFor(t, "user 1's onboarding", 20*time.Second, func() bool {
		b, _ := versionOf(t, c, onboardingOf("user-rollout-1"))
		return b == "v1"
	})

	// v2, with the review gate, current: new runs take it.
	startVersion("v2", []string{"approved"})
	setCurrent(t, c, "v2")
	approve("user-rollout-2", "0f0f0f0f-0000-4000-8000-000000000002")
	waitFor(t, "user 2's onboarding at v2's review gate", 20*time.Second, func() bool { return waiting("user-rollout-2") == onboarding.StepReview })
	if b, behavior := versionOf(t, c, onboardingOf("user-rollout-2")); b != "v2" || behavior != enumspb.VERSIONING_BEHAVIOR_PINNED {
		t.Fatalf("user 2's onboarding on %q (%s), want pinned to v2", b, behavior)
	}

	// The app is back: user 1's run finishes as v1 promised, without a gate.
	st.AppDown.Store(false)
	waitFor(t, "user 1's notification", 60*time.Second, func() bool { return len(st.Notifications("user-rollout-1")) == 1 })
	if b, behavior := versionOf(t, c, onboardingOf("user-rollout-1")); b != "v1" || behavior != enumspb.VERSIONING_BEHAVIOR_PINNED {
		t.Fatalf("user 1's onboarding on %q (%s), want pinned to v1", b, behavior)
	}
	if n := st.Notifications("user-rollout-2"); len(n) != 0 {
		t.Fatalf("user 2 notified before the review: %+v", n)
	}

	// Rollback: v1 current again. New runs take v1; user 2's run stays on
	// v2 and waits for its reviewer.
	setCurrent(t, c, "v1")
	approve("user-rollout-3", "0f0f0f0f-0000-4000-8000-000000000003")
	waitFor(t, "user 3's notification (v1: no gate)", 30*time.Second, func() bool { return len(st.Notifications("user-rollout-3")) == 1 })
	if b, _ := versionOf(t, c, onboardingOf("user-rollout-3")); b != "v1" {
		t.Fatalf("user 3's onboarding on %q after the rollback, want v1", b)
	}
	var ob onboarding.State
	getJSON(t, st.Admin.URL+"/v1/onboarding/user-rollout-2", adminToken, &ob)
	if ob.Waiting != onboarding.StepReview || ob.Current == nil {
		t.Fatalf("user 2's onboarding after the rollback: %+v, want still at the gate", ob)
	}
	rv := onboarding.Review{ChangeID: ob.Current.ID, Outcome: onboarding.ReviewPassed, Reviewer: "officer-7"}
	if code := postJSON(t, st.Admin.URL+"/v1/onboarding/user-rollout-2/review", adminToken, rv, nil); code != http.StatusOK {
		t.Fatalf("review of user 2: %d", code)
	}
	waitFor(t, "user 2's notification", 30*time.Second, func() bool { return len(st.Notifications("user-rollout-2")) == 1 })
	if b, _ := versionOf(t, c, onboardingOf("user-rollout-2")); b != "v2" {
		t.Fatalf("user 2's onboarding finished on %q, want v2", b)
	}

	// Sessions follow the current version.
	for _, id := range []string{"0f0f0f0f-0000-4000-8000-000000000001", "0f0f0f0f-0000-4000-8000-000000000003"} {
		if _, behavior := versionOf(t, c, workflows.WorkflowID(veriff.Name, id)); behavior != enumspb.VERSIONING_BEHAVIOR_AUTO_UPGRADE {
			t.Fatalf("session %s: %s, want auto-upgrade", id, behavior)
		}
	}
}

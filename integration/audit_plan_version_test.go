package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/worker"
)

// heldHand is a build's hand-over, held inside its UpdateUser attempt until
// released: an activity that v1 took before v2 became current and that
// finishes after (a slow commit, a store that answers late).
type heldHand struct {
	inner   activities.Onboarder
	entered chan struct{}
	release chan struct{}
}

func (h *heldHand) Hand(ctx context.Context, userRef string, c onboarding.Change) error {
	select {
	case h.entered <- struct{}{}:
	default:
	}
	<-h.release
	return h.inner.Hand(ctx, userRef, c)
}

// Audit: README "Versioned": an onboarding run is pinned "so a change's
// steps run as the build that took the change promised"; issue 22 "old
// runs finish as v1 promised, new runs take v2"; the brief's "whether the
// plan from one build can run on another".
//
// The plan does not come from the build that runs the onboarding: it
// comes from whichever worker ran the session's UpdateUser, inside
// SignalWithStart's input. An UpdateUser attempt v1 took just before v2
// became current starts the onboarding run after: the run is pinned to v2
// (the current version when its first task is dispatched) but carries v1's
// plan, for good (it is carried across continue-as-new). Here v2's plan
// holds approvals for review, v1's does not: the v2 run notifies the app
// without the gate v2 promised. (In a rollback, v1 code gets v2's plan,
// and a step only v2 knows ends "failed: unknown step".)
func TestAuditOnboardingPlanComesFromAnotherBuild(t *testing.T) {
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: onboardingFlow(), T: t, NoWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	c := st.Temporal.GetDefaultClient()
	held := &heldHand{entered: make(chan struct{}, 1), release: make(chan struct{})}
	start := func(build string, review []string, wrap func(activities.Onboarder) activities.Onboarder) {
		cfg := worker.Config{
			TaskQueue: testkit.TaskQueue, NotifyURL: st.App.URL, ReviewStatuses: review, OnboardingIdle: 2 * time.Second,
			Deployment: rolloutDeployment, BuildID: build, StopTimeout: time.Second,
		}
		acts := *st.Activities
		acts.Onboarding = wrap(onboarding.Starter{Client: c, TaskQueue: testkit.TaskQueue})
		wf := st.Workflow
		wf.Onboarding = cfg.Plan() // this build's steps
		w := sdkworker.New(c, testkit.TaskQueue, cfg.WorkerOptions())
		worker.Register(w, &acts, wf)
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}
	start("v1", nil, func(o activities.Onboarder) activities.Onboarder { held.inner = o; return held })
	setCurrent(t, c, "v1")

	user, sessionID := "user-audit-plan", "0a0f0f0f-0000-4000-8000-0000000000b1"
	st.Emulator.Put(veriff.Name, sessionID, nil)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", time.Now().UTC()))); code != http.StatusOK {
		t.Fatalf("approval: %d", code)
	}
	select {
	case <-held.entered: // v1's UpdateUser committed and is handing over
	case <-time.After(30 * time.Second):
		t.Fatal("v1 never handed over")
	}
	start("v2", []string{"approved"}, func(o activities.Onboarder) activities.Onboarder { return o })
	setCurrent(t, c, "v2")
	close(held.release)

	id := onboarding.WorkflowID(user)
	waitFor(t, "the user's onboarding", 30*time.Second, func() bool { b, _, err := tryVersionOf(c, id); return err == nil && b != "" })
	b, _ := versionOf(t, c, id)
	time.Sleep(2 * time.Second)
	var ob onboarding.State
	getJSON(t, st.Admin.URL+"/v1/onboarding/"+user, adminToken, &ob)
	if b == "v2" && (ob.Waiting != onboarding.StepReview || len(st.Notifications(user)) != 0) {
		t.Fatalf("the onboarding run is pinned to v2 but ran v1's plan: waiting %q, notifications %d, state %+v; "+
			"v2 promised the review gate for approvals", ob.Waiting, len(st.Notifications(user)), ob)
	}
	t.Logf("onboarding on %s, waiting %q", b, ob.Waiting)
}

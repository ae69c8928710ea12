package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/internal/deployment"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/worker"
	"github.com/idvflow/idvflow/workflows"
)

const rolloutDeployment = "idvflow"

// setCurrent makes build the deployment's current version.
func setCurrent(t *testing.T, c client.Client, build string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := deployment.SetCurrent(ctx, c, rolloutDeployment, build); err != nil {
		t.Fatal(err)
	}
}

// versionOf is the build id and versioning behaviour of a workflow's
// newest run.
func versionOf(t *testing.T, c client.Client, workflowID string) (string, enumspb.VersioningBehavior) {
	t.Helper()
	b, behavior, err := tryVersionOf(c, workflowID)
	if err != nil {
		t.Fatal(err)
	}
	return b, behavior
}

func tryVersionOf(c client.Client, workflowID string) (string, enumspb.VersioningBehavior, error) {
	d, err := c.DescribeWorkflowExecution(context.Background(), workflowID, "")
	if err != nil {
		return "", 0, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	v := d.GetWorkflowExecutionInfo().GetVersioningInfo()
	return v.GetDeploymentVersion().GetBuildId(), v.GetBehavior(), nil
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

// rolloutStack is what the rollout scenario needs of a stack: in process
// (TestVersionedRollout) or deploy/local-cluster.sh's (TestClusterRollout).
type rolloutStack struct {
	c client.Client
	// startVersion starts the workers of a build; review is its review
	// gate's statuses.
	startVersion func(build string, review []string)
	// approve sends a session's approval and waits for it on the record.
	approve    func(user, sessionID string)
	onboarding func(user string) onboarding.State
	review     func(user string, rv onboarding.Review) int
	notified   func(user string) int
	appDown    func(bool)
}

// rollout is issue 22's rollout: two builds of the worker as versions of
// one Worker Deployment. v1 onboards with the notify step; v2 adds the
// review gate. An onboarding run started on v1 stays pinned to it and
// finishes as v1 promised (no gate) after v2 became current; new runs
// take v2; after a rollback to v1, new runs take v1 again while the run
// pinned to v2 still waits at its gate, served by v2's workers, until a
// person answers. Sessions auto-upgrade throughout. users and sessions
// are three of each, unique to the run.
func rollout(t *testing.T, rs rolloutStack, users, sessions [3]string) {
	c := rs.c
	onboardingOf := func(user string) string { return onboarding.WorkflowID(user) }

	// v1, current; an onboarding in flight on it (the app is down).
	rs.startVersion("v1", nil)
	setCurrent(t, c, "v1")
	rs.appDown(true)
	rs.approve(users[0], sessions[0])
	waitFor(t, "user 1's onboarding on v1", 30*time.Second, func() bool {
		b, _, err := tryVersionOf(c, onboardingOf(users[0])) // the hand-over follows the record's write
		return err == nil && b == "v1"
	})

	// v2, with the review gate, current: new runs take it.
	rs.startVersion("v2", []string{"approved"})
	setCurrent(t, c, "v2")
	rs.approve(users[1], sessions[1])
	waitFor(t, "user 2's onboarding at v2's review gate", 30*time.Second, func() bool {
		return rs.onboarding(users[1]).Waiting == onboarding.StepReview
	})
	if b, behavior := versionOf(t, c, onboardingOf(users[1])); b != "v2" || behavior != enumspb.VERSIONING_BEHAVIOR_PINNED {
		t.Fatalf("user 2's onboarding on %q (%s), want pinned to v2", b, behavior)
	}

	// The runs still pinned to v1 are one query away (docs/extending.md):
	// v1's workers stay until it lists none.
	pinned := fmt.Sprintf(`TemporalWorkerDeploymentVersion=%q AND ExecutionStatus="Running"`, rolloutDeployment+":v1")
	waitFor(t, "user 1's onboarding listed as pinned to v1", 30*time.Second, func() bool {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: pinned})
		if err != nil {
			t.Logf("list %s: %v", pinned, err)
			return false
		}
		for _, e := range resp.GetExecutions() {
			if e.GetExecution().GetWorkflowId() == onboardingOf(users[0]) {
				return true
			}
		}
		return false
	})

	// The app is back: user 1's run finishes as v1 promised, without a gate.
	rs.appDown(false)
	waitFor(t, "user 1's notification", 90*time.Second, func() bool { return rs.notified(users[0]) == 1 })
	if b, behavior := versionOf(t, c, onboardingOf(users[0])); b != "v1" || behavior != enumspb.VERSIONING_BEHAVIOR_PINNED {
		t.Fatalf("user 1's onboarding on %q (%s), want pinned to v1", b, behavior)
	}
	if n := rs.notified(users[1]); n != 0 {
		t.Fatalf("user 2 notified %d times before the review", n)
	}

	// Rollback: v1 current again. New runs take v1; user 2's run stays on
	// v2 and waits for its reviewer.
	setCurrent(t, c, "v1")
	rs.approve(users[2], sessions[2])
	waitFor(t, "user 3's notification (v1: no gate)", 30*time.Second, func() bool { return rs.notified(users[2]) == 1 })
	if b, _ := versionOf(t, c, onboardingOf(users[2])); b != "v1" {
		t.Fatalf("user 3's onboarding on %q after the rollback, want v1", b)
	}
	ob := rs.onboarding(users[1])
	if ob.Waiting != onboarding.StepReview || ob.Current == nil {
		t.Fatalf("user 2's onboarding after the rollback: %+v, want still at the gate", ob)
	}
	rv := onboarding.Review{ChangeID: ob.Current.ID, Outcome: onboarding.ReviewPassed, Reviewer: "officer-7"}
	if code := rs.review(users[1], rv); code != http.StatusOK {
		t.Fatalf("review of user 2: %d", code)
	}
	waitFor(t, "user 2's notification", 30*time.Second, func() bool { return rs.notified(users[1]) == 1 })
	if b, _ := versionOf(t, c, onboardingOf(users[1])); b != "v2" {
		t.Fatalf("user 2's onboarding finished on %q, want v2", b)
	}

	// Sessions follow the current version.
	for _, id := range []string{sessions[0], sessions[2]} {
		if _, behavior := versionOf(t, c, workflows.WorkflowID(veriff.Name, id)); behavior != enumspb.VERSIONING_BEHAVIOR_AUTO_UPGRADE {
			t.Fatalf("session %s: %s, want auto-upgrade", id, behavior)
		}
	}
}

// startBuild starts, in this process, the versioned worker of build,
// whose plan holds review for the review gate; wrap, if not nil, wraps its
// hand-over.
func startBuild(t *testing.T, st *testkit.Stack, c client.Client, build string, review []string, wrap func(activities.Onboarder) activities.Onboarder) {
	cfg := worker.Config{
		TaskQueue: testkit.TaskQueue, NotifyURL: st.App.URL, ReviewStatuses: review, OnboardingIdle: 2 * time.Second,
		Deployment: rolloutDeployment, BuildID: build, StopTimeout: time.Second,
	}
	acts := *st.Activities
	var hand activities.Onboarder = onboarding.Starter{Client: c, TaskQueue: testkit.TaskQueue}
	if wrap != nil {
		hand = wrap(hand)
	}
	acts.Onboarding = hand
	wf := st.Workflow
	wf.Onboarding = cfg.Plan() // this build's steps
	w := sdkworker.New(c, testkit.TaskQueue, cfg.WorkerOptions())
	worker.Register(w, &acts, wf)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
}

// TestVersionedRollout is the rollout with both builds' workers in this
// process, on the in-process server.
func TestVersionedRollout(t *testing.T) {
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: onboardingFlow(), T: t, NoWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	c := st.Temporal.GetDefaultClient()
	rs := rolloutStack{c: c,
		startVersion: func(build string, review []string) { startBuild(t, st, c, build, review, nil) },
		approve: func(user, sessionID string) {
			t.Helper()
			st.Emulator.Put(veriff.Name, sessionID, nil)
			if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", time.Now().UTC()))); code != http.StatusOK {
				t.Fatalf("approval of %s: %d", user, code)
			}
			waitUser(t, st, user, "approved", 20*time.Second)
		},
		onboarding: func(user string) onboarding.State {
			var ob onboarding.State
			getJSON(t, st.Admin.URL+"/v1/onboarding/"+user, adminToken, &ob)
			return ob
		},
		review: func(user string, rv onboarding.Review) int {
			return postJSON(t, st.Admin.URL+"/v1/onboarding/"+user+"/review", adminToken, rv, nil)
		},
		notified: func(user string) int { return len(st.Notifications(user)) },
		appDown:  st.AppDown.Store,
	}
	rollout(t, rs, [3]string{"user-rollout-1", "user-rollout-2", "user-rollout-3"},
		[3]string{"0f0f0f0f-0000-4000-8000-000000000001", "0f0f0f0f-0000-4000-8000-000000000002", "0f0f0f0f-0000-4000-8000-000000000003"})
}

// TestClusterRollout is the rollout on deploy/local-cluster.sh's stack:
// the official Temporal server on PostgreSQL, each build's worker a
// process of cmd/worker started by the script (start-version), the
// current version moved by the script (set-current). Skipped unless
// IDV_CLUSTER_ENV names the stack's env file, as .ci/run sets it.
func TestClusterRollout(t *testing.T) {
	cluster := clusterEnv(t)
	script, receiver, adminURL := cluster["IDV_CLUSTER_SCRIPT"], strings.Split(cluster["IDV_CLUSTER_RECEIVERS"], ",")[0], cluster["IDV_CLUSTER_ADMIN"]
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("bash", append([]string{script}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("local-cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	c := clusterClient(t, cluster)

	// The team's app, served by the test.
	var down atomic.Bool
	var mu sync.Mutex
	got := map[string]int{}
	app := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if down.Load() {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var body struct{ Data activities.Notification }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got[body.Data.UserID]++
		mu.Unlock()
	}))
	defer app.Close()

	var started []string
	t.Cleanup(func() {
		// Leave the stack as it was: unversioned workers take new work.
		if out, err := exec.Command("bash", script, "set-current", "").CombinedOutput(); err != nil {
			t.Errorf("set-current \"\": %v\n%s", err, out)
		}
		for _, n := range started {
			exec.Command("bash", script, "stop-version", n).Run()
		}
	})
	rs := rolloutStack{c: c,
		startVersion: func(build string, review []string) {
			n := strconv.Itoa(len(started) + 1)
			t.Setenv("IDV_NOTIFY_URL", app.URL)
			t.Setenv("IDV_NOTIFY_SECRET", testkit.NotifySecret)
			t.Setenv("IDV_REVIEW_STATUSES", strings.Join(review, ","))
			t.Setenv("IDV_ONBOARDING_IDLE", "2s")
			run("start-version", n, build)
			started = append(started, n)
		},
		approve: func(user, sessionID string) {
			t.Helper()
			// A decision webhook: the session asks the provider nothing.
			d := veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", time.Now().UTC()))
			waitFor(t, "the approval of "+user+" acknowledged", 60*time.Second, func() bool { return send(t, receiver, d) == http.StatusOK })
			waitFor(t, user+" approved", 60*time.Second, func() bool {
				var u admin.UserView
				return getJSON(t, adminURL+"/v1/users/"+user, "", &u) == http.StatusOK && u.Status == "approved"
			})
		},
		onboarding: func(user string) onboarding.State {
			var ob onboarding.State
			getJSON(t, adminURL+"/v1/onboarding/"+user, "", &ob)
			return ob
		},
		review: func(user string, rv onboarding.Review) int {
			return postJSON(t, adminURL+"/v1/onboarding/"+user+"/review", "", rv, nil)
		},
		notified: func(user string) int {
			mu.Lock()
			defer mu.Unlock()
			return got[user]
		},
		appDown: down.Store,
	}
	stamp := uint32(time.Now().Unix()) // the cluster's database outlives a run
	var users, sessions [3]string
	for i := range users {
		users[i] = fmt.Sprintf("user-cluster-rollout-%08x-%d", stamp, i+1)
		sessions[i] = fmt.Sprintf("%08x-0000-4000-8000-%012d", stamp, i+1) // a Veriff session id is a UUID
	}
	rollout(t, rs, users, sessions)
}

// heldHand is a build's hand-over, held inside its ApplyAndHandOver attempt until
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

// docs/production.md: an onboarding run is pinned to the version it
// started on, so "a change's steps run as the build that took the change
// promised": old runs finish as v1 promised, new runs take v2.
//
// The plan comes from the build that runs the onboarding's first task, not
// from whichever worker ran the session's ApplyAndHandOver. An ApplyAndHandOver
// attempt v1 took just before v2 became current starts the onboarding run
// after: the run is pinned to v2 (the current version when its first task
// is dispatched) and runs v2's plan. Here v2's plan holds approvals for
// review, v1's does not: the v2 run holds the approval at the gate v2
// promised and notifies the app of nothing.
func TestOnboardingRunsThePlanOfTheBuildItIsPinnedTo(t *testing.T) {
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: onboardingFlow(), T: t, NoWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	c := st.Temporal.GetDefaultClient()
	held := &heldHand{entered: make(chan struct{}, 1), release: make(chan struct{})}
	startBuild(t, st, c, "v1", nil, func(o activities.Onboarder) activities.Onboarder { held.inner = o; return held })
	setCurrent(t, c, "v1")

	user, sessionID := "user-plan-build", "0a0f0f0f-0000-4000-8000-0000000000b1"
	st.Emulator.Put(veriff.Name, sessionID, nil)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", time.Now().UTC()))); code != http.StatusOK {
		t.Fatalf("approval: %d", code)
	}
	select {
	case <-held.entered: // v1's ApplyAndHandOver committed and is handing over
	case <-time.After(30 * time.Second):
		t.Fatal("v1 never handed over")
	}
	startBuild(t, st, c, "v2", []string{"approved"}, nil)
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

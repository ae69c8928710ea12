package integration

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/passbase"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/worker"
	"github.com/idvflow/idvflow/workflows"
)

// A worker configured unlike the others must never end a session or write
// a user (issue 13): beside the stack's correctly configured worker, on the
// same task queue, one worker lacks IDV_PAYLOAD_KEYS (it cannot decode any
// payload) and one lacks the Passbase API key. Every session of both
// providers still completes, correctly, once, with no failed run and no
// phantom user under an identity key.
func TestMisconfiguredWorkersNeverFailASession(t *testing.T) {
	st := faultStack(t, testkit.Options{PayloadKeys: payloadcodec.NewKey("k1")})
	ctx := context.Background()

	noKeys := st.Temporal.NewClientWithOptions(client.Options{DataConverter: temporalconn.Guarded(nil)})
	withoutKeys := sdkworker.New(noKeys, testkit.TaskQueue, worker.Options(time.Second))
	worker.Register(withoutKeys, st.Activities, st.Workflow)
	noPassbase := *st.Activities
	noPassbase.Providers = maps.Clone(st.Activities.Providers)
	noPassbase.Providers[passbase.Name] = passbase.Provider{}.NewConfig().API(nil) // no PASSBASE_API_KEY
	withoutPassbase := sdkworker.New(st.Temporal.GetDefaultClient(), testkit.TaskQueue, worker.Options(time.Second))
	worker.Register(withoutPassbase, &noPassbase, st.Workflow)
	for _, w := range []sdkworker.Worker{withoutKeys, withoutPassbase} {
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}

	sessions, deliveries := mixedSessions(t, st.Emulator, 12)
	for _, d := range deliveries {
		if code := send(t, st.Receiver.URL, d); code != http.StatusOK {
			t.Fatalf("webhook: %d", code)
		}
	}
	// A limit, not a speed target: Temporal slows down the retries of a
	// workflow task that keeps failing on the key-less worker.
	waitAllClosed(t, st, sessions, 8*time.Minute)
	checkUsers(t, st, sessions)
	c := st.Temporal.GetDefaultClient()
	for _, s := range sessions {
		d, err := c.DescribeWorkflowExecution(ctx, workflows.WorkflowID(s.provider, s.id), "")
		if err != nil {
			t.Fatal(err)
		}
		if got := d.GetWorkflowExecutionInfo().GetStatus(); got != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			t.Fatalf("%s %s: run %s, want completed", s.provider, s.id, got)
		}
		if _, err := st.Users.Get(ctx, s.id); !errors.Is(err, userstore.ErrNotFound) {
			t.Fatalf("%s %s: a phantom user under the session id (%v)", s.provider, s.id, err)
		}
	}
}

// A worker without the onboarding's configuration (no IDV_NOTIFY_URL: its
// plan has no step) never takes a change: the onboarding's tasks wait for
// a worker that has the plan, which then notifies the app, once. (Before,
// the planless worker ran the onboarding's first task, recorded its empty
// plan and took the change with no step: the app never heard of it.)
func TestWorkerWithoutThePlanNeverTakesAChange(t *testing.T) {
	st := faultStack(t, testkit.Options{NoWorker: true, Env: map[string]string{"IDV_ONBOARDING_IDLE": "2s"}})
	ctx := context.Background()
	planless := *st.Activities
	planless.Notify, planless.Onboarding = nil, nil
	wf := st.Workflow
	wf.Onboarding = onboarding.Plan{}
	w := st.Temporal.NewWorkerWithOptions(testkit.TaskQueue, func(r sdkworker.Registry) {
		worker.Register(r, &planless, wf)
	}, worker.Options(time.Second))
	defer w.Stop()

	user := "user-planless-worker"
	ch := onboarding.Change{ID: "c-planless", UserID: user, Provider: passbase.Name, SessionID: "s-planless",
		Status: "approved", At: time.Now().UTC().Add(-time.Minute), Verdict: true}
	if err := st.Activities.Onboarding.Hand(ctx, st.Activities.UserRef.Value(user), ch); err != nil {
		t.Fatal(err)
	}
	wid := onboarding.WorkflowID(st.Activities.UserRef.Value(user))
	c := st.Temporal.GetDefaultClient()
	waitFor(t, "the planless worker to refuse the onboarding's task twice", 60*time.Second, func() bool {
		d, err := c.DescribeWorkflowExecution(ctx, wid, "")
		return err == nil && d.GetPendingWorkflowTask().GetAttempt() >= 2
	})
	if hasEvent(ctx, c, wid, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
		t.Fatal("the planless worker completed the onboarding's task")
	}
	st.StartWorker(time.Second)
	waitFor(t, "the approval at the app", 90*time.Second, func() bool { return len(st.Notifications(user)) > 0 })
	if err := st.WaitClosed(ctx, wid, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := st.Notifications(user); len(got) != 1 || got[0].Data.WebhookID != "msg_"+ch.ID {
		t.Fatalf("notifications %+v; want the approval once", got)
	}
}

// A fleet whose workers differ: the session's workflow tasks run on a
// worker with the onboarding's plan (the run records that its writes hand
// over), its write lands on a worker without one. That worker cannot
// start the onboarding and must not hold back the record: it writes the
// user and leaves the change owed to the onboarding in the store (before,
// it handed nothing over, and the app never heard of the change). Once a
// worker with the plan runs, the operator's `idvctl onboarding retry`
// (or the user's next change) brings it to the app, once.
func TestWorkerWithoutThePlanLeavesTheChangeOwed(t *testing.T) {
	st := faultStack(t, testkit.Options{NoWorker: true, Workflow: onboardingFlow(), Env: map[string]string{"IDV_ONBOARDING_IDLE": "2s"}})
	ctx := context.Background()
	// The workflows' worker has the plan and runs no activity task.
	wfOpts := worker.Options(time.Second)
	wfOpts.LocalActivityWorkerOnly = true
	wfWorker := st.Temporal.NewWorkerWithOptions(testkit.TaskQueue, func(r sdkworker.Registry) {
		worker.Register(r, st.Activities, st.Workflow)
		worker.RegisterOperator(r, st.Operator)
	}, wfOpts)
	// The activities' worker has none.
	planless := *st.Activities
	planless.Notify, planless.Onboarding = nil, nil
	actOpts := worker.Options(time.Second)
	actOpts.DisableWorkflowWorker = true
	actWorker := st.Temporal.NewWorkerWithOptions(testkit.TaskQueue, func(r sdkworker.Registry) {
		r.RegisterActivity(&planless)
	}, actOpts)

	user, sessionID := "user-planless-write", "0f0f0f0f-0000-4000-8000-000000000001"
	st.Emulator.Put(veriff.Name, sessionID, nil)
	if code := send(t, st.Receiver.URL, veriffDelivery(veriffKey, veriffSecret, veriff.DecisionBody(sessionID, "a", user, "approved", time.Now().UTC()))); code != http.StatusOK {
		t.Fatalf("approval: %d", code)
	}
	waitUser(t, st, user, "approved", 30*time.Second)
	owed, _, err := st.Users.Owed(ctx, user, 10, 1<<20)
	if err != nil || len(owed) != 1 {
		t.Fatalf("owed after the planless write: %d (%v), want the approval", len(owed), err)
	}
	wid := onboarding.WorkflowID(st.Activities.UserRef.Value(user))
	if _, err := st.Temporal.GetDefaultClient().DescribeWorkflowExecution(ctx, wid, ""); err == nil {
		t.Fatal("the planless worker started the onboarding")
	}
	actWorker.Stop()
	wfWorker.Stop()

	st.StartWorker(time.Second)
	var r admin.OnboardingRetryView
	if code := postJSON(t, st.Admin.URL+"/v1/onboarding/"+user+"/retry", adminToken, struct{}{}, &r); code != http.StatusOK || r.Handed != 1 {
		t.Fatalf("retry: %d %+v; want the approval handed", code, r)
	}
	waitFor(t, "the approval at the app", 60*time.Second, func() bool { return len(st.Notifications(user)) > 0 })
	if err := st.WaitClosed(ctx, wid, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := st.Notifications(user); len(got) != 1 || got[0].Data.Status != "approved" {
		t.Fatalf("notifications %+v; want the approval once", got)
	}
}

package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"

	"github.com/idvflow/idvflow/worker"
)

// TestStopLetsRunningActivitiesFinish: a worker told to stop while an
// activity runs stops polling, and the activity completes within
// IDV_WORKER_STOP_TIMEOUT instead of being cut off.
func TestStopLetsRunningActivitiesFinish(t *testing.T) {
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	started := make(chan struct{})
	var finished atomic.Bool
	slow := func(ctx context.Context) error {
		close(started)
		select {
		case <-time.After(700 * time.Millisecond):
			finished.Store(true)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	wf := func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		return workflow.ExecuteActivity(ctx, "Slow").Get(ctx, nil)
	}
	w := sdkworker.New(ts.GetDefaultClient(), "stop-test", worker.Options(5*time.Second))
	w.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: "StopTest"})
	w.RegisterActivityWithOptions(slow, activityName("Slow"))
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.GetDefaultClient().ExecuteWorkflow(context.Background(),
		clientOptions("stop-test-1", "stop-test"), "StopTest"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the activity never started")
	}
	begin := time.Now()
	w.Stop() // blocks until running activities finish or the timeout
	if !finished.Load() {
		t.Fatalf("Stop returned after %s with the activity cut off", time.Since(begin))
	}
}

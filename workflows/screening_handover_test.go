package workflows_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit/schedules"
	"github.com/idvflow/idvflow/workflows"
)

// R10: a screening in the late-event window whose write lasts while the
// provider repeats itself past the signal bound. The run must hand over and
// the next run write the screening (the window once retried the write in a
// loop that never yielded, and the session stopped for good).
func TestR10ScreeningWriteHandsOverInTheLateWindow(t *testing.T) {
	w := sharedWorld(t)
	t0 := time.Date(2026, 10, 20, 9, 0, 0, 0, time.UTC)
	user, id := "user-r10-scr-handover", "r10-scr-handover"
	approvedBody := veriff.DecisionBody(id, "a1", user, "approved", t0)
	approved := arrive(veriff.Name, t0, approvedBody)
	deliveries := []schedules.Delivery{
		approved,
		arrive(veriff.Name, t0.Add(10*time.Minute), veriff.ScreeningBody(id, "a1", user, "pep_sanctions", "possible_match", t0.Add(10*time.Minute))),
	}
	var done atomic.Bool
	w.prepare = func(env *testsuite.TestWorkflowEnvironment, run int) {
		w.onWrite(env, func(ctx context.Context, u activities.UserUpdate, write writeFunc) (activities.UpdateResult, error) {
			if u.Kind == "screening" && !done.Swap(true) {
				for range 2100 { // the provider repeats the approval while the write lasts
					env.SignalWorkflow(workflows.SignalEvent, approved.Ev)
				}
			}
			return write(ctx, u)
		})
	}
	defer func() { w.prepare = nil }()
	runs := w.runAll(t, schedules.Skipping.Config, veriff.Name, id, deliveries, func(time.Time) {}, false)
	t.Logf("%d runs", runs)
	w.wantScreening(t, user, "possible_match")
}

// The same without a slow store: the provider repeats the approval 1,998
// times in the late-event window and then sends a screening, the run's
// 2,000th signal.
func TestR10ScreeningAtTheSignalBoundInTheLateWindow(t *testing.T) {
	w := sharedWorld(t)
	t0 := time.Date(2026, 10, 21, 9, 0, 0, 0, time.UTC)
	user, id := "user-r10-scr-bound", "r10-scr-bound"
	approved := arrive(veriff.Name, t0, veriff.DecisionBody(id, "a1", user, "approved", t0))
	deliveries := []schedules.Delivery{approved}
	for i := range 1998 { // 100 a callback: the environment's callback queue is bounded
		deliveries = append(deliveries, arrive(veriff.Name, t0.Add(10*time.Minute+time.Duration(i/100)*time.Second), veriff.DecisionBody(id, "a1", user, "approved", t0)))
	}
	deliveries = append(deliveries, arrive(veriff.Name, t0.Add(10*time.Minute+19*time.Second), veriff.ScreeningBody(id, "a1", user, "pep_sanctions", "possible_match", t0.Add(10*time.Minute))))
	runs := w.runAll(t, schedules.Skipping.Config, veriff.Name, id, deliveries, func(time.Time) {}, false)
	t.Logf("%d runs", runs)
	w.wantScreening(t, user, "possible_match")
}

// wantScreening fails t unless user's record shows screening status want.
func (w *world) wantScreening(t *testing.T, user, want string) {
	t.Helper()
	u, err := w.users.Get(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	if u.ScreeningStatus != want {
		t.Fatalf("screening %q, want %s", u.ScreeningStatus, want)
	}
}

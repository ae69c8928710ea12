package workflows_test

// Audit of issue 19: failing tests for what the change breaks.

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/internal/testkit/schedules"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/workflows"
)

// R10: "It checks these while it waits for an activity too: a run that
// sits in a long write ... while webhooks keep coming hands over at the
// bound". The notify step (retried without limit while the app is down) is
// such an activity: webhooks keep coming while it waits, and the run must
// hand over at 2,000 signals instead of running into Temporal's 10,000.
func TestAuditR10HandsOverDuringALongNotification(t *testing.T) {
	w := sharedWorld(t)
	defer func() { w.prepare = nil }()
	t0 := time.Date(2026, 9, 6, 9, 0, 0, 0, time.UTC)
	id, user := "audit-r10-long-notify", "user-audit-r10-long-notify"
	repeat := arrive(veriff.Name, t0, veriff.EventBody(id, "a", user, veriff.Started)).Ev
	release := make(chan struct{})
	var released atomic.Bool
	go func() {
		select {
		case <-release:
		case <-time.After(10 * time.Second): // the app answers at last
			released.Store(true)
			close(release)
		}
	}()
	w.prepare = func(env *testsuite.TestWorkflowEnvironment, run int) {
		if run > 0 {
			return
		}
		env.SetTestTimeout(time.Minute) // the environment's 3s would end a run that waits
		env.OnActivity(w.acts.NotifyApp, mock.Anything, mock.Anything).Return(
			func(ctx context.Context, n activities.Notification) (activities.NotifyResult, error) {
				for range 2100 { // the provider repeats itself meanwhile
					env.SignalWorkflow(workflows.SignalEvent, repeat)
				}
				<-release
				return w.acts.NotifyApp(ctx, n)
			})
	}
	runs := w.runAll(t, schedules.Skipping.Config, veriff.Name, id, []schedules.Delivery{
		arrive(veriff.Name, t0, veriff.DecisionBody(id, "a", user, "approved", t0)),
	}, func(time.Time) {}, false)
	handedOver := !released.Load()
	if handedOver {
		close(release)
	}
	if !handedOver || runs < 2 {
		t.Fatalf("R10: %d runs; the run waited for the notification to end before it handed over (2,100 signals meanwhile)", runs)
	}
}

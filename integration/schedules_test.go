package integration

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/testkit/schedules"
	"github.com/idvflow/idvflow/workflows"
)

// endToEndSchedules is how many generated schedules every `go test ./...`
// sends through the real stack.
const endToEndSchedules = 40

// TestGeneratedSchedulesEndToEnd sends generated schedules (the same
// generator and reference model as workflows.TestGeneratedSchedules,
// docs/semantics.md R1-R8) through the real receiver over HTTP, as the
// providers' signed or encrypted bytes, to a real Temporal server and
// worker, in real time: webhooks after a run closed start new runs with
// SignalWithStart, and a late cluster meets a closed session. Every webhook
// must get 200, every one signed too long ago (a provider whose signature
// carries a time) 401, and every user must end as the model says.
func TestGeneratedSchedulesEndToEnd(t *testing.T) {
	tm := schedules.RealTime(time.Now().Add(3 * time.Second))
	st := faultStack(t, testkit.Options{Workflow: tm.Config})
	ctx := context.Background()

	var all []schedules.Schedule
	for i := range endToEndSchedules {
		n := 7000 + i
		sc := rapid.Custom(func(rt *rapid.T) schedules.Schedule { return schedules.Gen(rt, n, tm) }).Example(i)
		for j := range sc.Sessions {
			// Sessions begin at the receiver's clock (R4): give each its own
			// second, so milliseconds of latency cannot tie two of them.
			sc.Sessions[j].At += time.Duration(j) * 4 * time.Second
		}
		all = append(all, sc)
	}

	var wg sync.WaitGroup
	for _, sc := range all {
		for _, s := range sc.Sessions {
			wg.Add(3)
			go func() { // the provider's API: its early decisions, then its late ones too
				defer wg.Done()
				s.ProviderState(st.Emulator, sc.User, s.Start())
				time.Sleep(time.Until(s.Start().Add(tm.LateMade)))
				s.ProviderState(st.Emulator, sc.User, s.Start().Add(tm.LateMade))
			}()
			go func() {
				defer wg.Done()
				for _, d := range s.Deliveries(sc.User) {
					time.Sleep(time.Until(d.At))
					// The same bytes the workflow test's events were parsed
					// from, sealed as the provider sends them.
					if code, answer, err := st.Target.Send(ctx, s.Provider, d.Body); err != nil || code != http.StatusOK {
						t.Errorf("%s %s: %d %s %v", s.ID, d.Ev.Type, code, answer, err)
					}
				}
			}()
			go func() { // beside them, deliveries held up past the signature's tolerance
				defer wg.Done()
				for _, d := range s.StaleDeliveries(sc.User) {
					time.Sleep(time.Until(d.At))
					header, body := schedules.Stale(s.Provider, d.Body)
					if code, answer, err := st.Target.Post(ctx, s.Provider, header, body); err != nil || code != http.StatusUnauthorized {
						t.Errorf("%s stale %s: %d %s %v", s.ID, d.Ev.Type, code, answer, err)
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, sc := range all {
		for _, s := range sc.Sessions {
			if err := st.WaitClosed(ctx, workflows.WorkflowID(s.Provider, s.ID), 2*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The users' onboardings post the notifications: wait until each has
	// nothing left to do.
	for _, sc := range all {
		waitOnboarded(t, st, sc.User, time.Minute)
	}
	for _, sc := range all {
		t.Run(sc.User, func(t *testing.T) {
			var sent []schedules.Notification
			for _, n := range st.Notifications(sc.User) {
				sent = append(sent, schedules.Notification(n))
			}
			schedules.Check(t, st.Users, sent, sc, schedules.Model(sc), false)
		})
	}
}

// waitOnboarded waits until the user's onboarding, if there is one, runs
// no change and has none queued.
func waitOnboarded(t *testing.T, st *testkit.Stack, user string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var ob onboarding.State
		code := getJSON(t, st.Admin.URL+"/v1/onboarding/"+user, adminToken, &ob)
		if code == http.StatusNotFound || (code == http.StatusOK && ob.Current == nil && len(ob.Queued) == 0) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("user %s's onboarding still busy after %s: %d %+v", user, limit, code, ob)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

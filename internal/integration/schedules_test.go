package integration

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/veriff"

	"pgregory.net/rapid"

	"github.com/idvflow/idvflow/internal/testkit"
	"github.com/idvflow/idvflow/internal/testkit/schedules"
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
// must get 200, and every user must end as the model says.
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
			if sc.Sessions[j].Provider == passbase.Name {
				// A late run then begins with the older vocabulary's event,
				// which names the user as the generated events do.
				sc.Sessions[j].LateNudge = true
			}
			for k := range sc.Sessions[j].Decisions {
				d := &sc.Sessions[j].Decisions[k]
				if sc.Sessions[j].Provider == veriff.Name {
					d.ReasonCode = veriff.ReasonCodeFor(d.Status) // what the simulator's bodies carry
				}
			}
		}
		all = append(all, sc)
	}

	var wg sync.WaitGroup
	for _, sc := range all {
		for _, s := range sc.Sessions {
			wg.Add(2)
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
					body, ok := webhookFor(t, s, sc.User, d.Ev)
					if !ok {
						continue
					}
					if code := send(t, st.Receiver.URL, body); code != http.StatusOK {
						t.Errorf("%s %s: %d", s.ID, d.Ev.Type, code)
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

// webhookFor is the provider's webhook for a generated event, byte for byte
// as the provider sends it.
func webhookFor(t *testing.T, s schedules.Session, user string, ev workflows.Event) (delivery, bool) {
	if s.Provider == veriff.Name {
		var body []byte
		switch ev.Kind {
		case workflows.KindDecision:
			body = veriff.DecisionBody(s.ID, ev.AttemptID, user, string(ev.Decision), ev.OccurredAt)
		case workflows.KindProgress:
			body = veriff.EventBody(s.ID, "attempt", user, veriff.Started)
		case workflows.KindProcessed:
			body = veriff.EventBody(s.ID, "attempt", user, veriff.Submitted)
		case workflows.KindScreening:
			body = veriff.ScreeningBody(s.ID, "attempt", user, "updated_result", ev.ProviderStatus, ev.OccurredAt)
		default: // a type idvflow does not model, naming the session
			body = []byte(fmt.Sprintf(`{"sessionId":%q,"feature":"ine","n":%q,"vendorData":%q}`, s.ID, ev.ID, user))
		}
		return veriffDelivery(veriffKey, veriffSecret, body), true
	}
	var plain []byte
	switch ev.Kind {
	case workflows.KindDecision:
		plain = passbase.ReviewedBody(passbase.VocabularyNew, s.ID, user, string(ev.Decision), s.Start(), ev.OccurredAt)
	case workflows.KindProgress, workflows.KindProcessed:
		// The older vocabulary carries the app's user id, as the
		// generated events do.
		plain = passbase.ProcessedBody(passbase.VocabularyLegacy, s.ID, user, "", s.Start(), s.Start())
	default:
		return delivery{}, false
	}
	body, err := passbase.Encrypt(passbaseSecret, plain)
	if err != nil {
		t.Fatal(err)
	}
	return delivery{"/webhooks/passbase", "text/plain", nil, body}, true
}

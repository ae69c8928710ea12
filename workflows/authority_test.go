package workflows_test

// The store is the session's memory (docs/semantics.md R2, R4, R7, R8, R10):
// what broke when a run's own memory stood in for it (issue 19), each
// through the real workflow, activities and store.

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit/schedules"
	"github.com/idvflow/idvflow/workflows"
)

// R8: a decision acknowledged while the session fails is applied, whether
// it came while the poll that the provider refused for good ran, or while
// the error was being written (once a database outage long).
func TestR8DecisionDuringAFailureIsApplied(t *testing.T) {
	w := sharedWorld(t)
	defer func() { w.prepare = nil }()
	t0 := time.Date(2026, 8, 1, 9, 0, 0, 0, time.UTC)
	for _, during := range []string{"PollDecision", "ApplyAndHandOver"} {
		t.Run("during "+during, func(t *testing.T) {
			id := "r8-fail-" + strings.ToLower(during)
			user := "user-" + id // the emulator knows no such session: 404
			approved := arrive(veriff.Name, t0.Add(time.Hour+time.Second), veriff.DecisionBody(id, "a", user, "approved", t0.Add(30*time.Minute)))
			var sent atomic.Bool
			signal := func(env *testsuite.TestWorkflowEnvironment) {
				if !sent.Swap(true) {
					env.SignalWorkflow(workflows.SignalEvent, approved.Ev)
				}
			}
			w.prepare = func(env *testsuite.TestWorkflowEnvironment, run int) {
				env.OnActivity(w.acts.PollDecision, mock.Anything, mock.Anything).Return(
					func(ctx context.Context, ref activities.SessionRef) (activities.PollResult, error) {
						if during == "PollDecision" {
							signal(env)
						}
						return w.acts.PollDecision(ctx, ref)
					})
				w.onWrite(env, func(ctx context.Context, u activities.UserUpdate, write writeFunc) (activities.UpdateResult, error) {
					if during == "ApplyAndHandOver" && u.Status == "error" {
						signal(env) // acknowledged while the error is written
					}
					return write(ctx, u)
				})
			}
			w.runAll(t, schedules.Skipping.Config, veriff.Name, id, []schedules.Delivery{
				arrive(veriff.Name, t0, veriff.EventBody(id, "a", user, veriff.Started)),
			}, func(time.Time) {}, true)
			if !sent.Load() {
				t.Fatal("the decision was never signalled")
			}
			if st, h := w.user(t, user); st != "approved" || !strings.Contains(h, "approved") {
				t.Fatalf("user %s with decisions %q: the acknowledged approval was dropped", st, h)
			}
		})
	}
}

// R5, R7: a decision without a provider time that comes again after its
// run closed is ordered as it was the first time: session A's untimed
// resubmission, then its decline; session B approves a month later; A's
// captured untimed body is replayed 60 days after it was first sent. The
// replay must not reopen A into an ending that outranks B's approval.
func TestR7UntimedDecisionReplayedWeeksLater(t *testing.T) {
	w := sharedWorld(t)
	user := "user-r7-untimed-replay"
	t0 := time.Date(2026, 8, 2, 9, 0, 0, 0, time.UTC)
	a, b := "r7-replay-a", "r7-replay-b"
	resubmission := veriff.DecisionBody(a, "a1", user, "resubmission_requested", time.Time{})
	declined, approved := t0.Add(time.Hour), t0.Add(30*24*time.Hour)
	w.emu.Put(veriff.Name, a, sim.JSON(veriff.Verification(a, "a2", user, "declined", declined)))
	w.emu.Put(veriff.Name, b, sim.JSON(veriff.Verification(b, "b1", user, "approved", approved)))
	none := func(time.Time) {}
	w.runAll(t, schedules.Skipping.Config, veriff.Name, a, []schedules.Delivery{
		arrive(veriff.Name, t0, resubmission),
		arrive(veriff.Name, declined, veriff.DecisionBody(a, "a2", user, "declined", declined)),
	}, none, false)
	w.runAll(t, schedules.Skipping.Config, veriff.Name, b, []schedules.Delivery{
		arrive(veriff.Name, approved, veriff.DecisionBody(b, "b1", user, "approved", approved)),
	}, none, false)
	w.runAll(t, schedules.Skipping.Config, veriff.Name, a, []schedules.Delivery{
		arrive(veriff.Name, t0.Add(60*24*time.Hour), resubmission),
	}, none, false)
	u, err := w.users.Get(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != "approved" || u.SessionID != b || u.LatestSession.SessionID != b || strings.Contains(statuses(u), "expired") {
		t.Fatalf("user %s of %s, latest %+v, decisions %q; want B's approval, latest too, no expiry",
			u.Status, u.SessionID, u.LatestSession, statuses(u))
	}
}

// R7: one untimed decision reaches the app once, under one webhook-id and
// one decided_at, however many runs meet it: the user's onboarding runs the
// steps, and the store remembers the change was handed over (R11). An
// expiry of a session that applied no decision is dated when the session
// began, not 0001-01-01.
func TestR7NotificationsNamedByTheStore(t *testing.T) {
	w := sharedWorld(t)
	t0 := time.Date(2026, 8, 3, 9, 0, 0, 0, time.UTC)
	user, id := "user-r7-notify-once", "r7-notify-once"
	body := veriff.DecisionBody(id, "a1", user, "approved", time.Time{})
	for _, at := range []time.Time{t0, t0.Add(10 * 24 * time.Hour)} {
		w.runAll(t, schedules.Skipping.Config, veriff.Name, id, []schedules.Delivery{arrive(veriff.Name, at, body)}, func(time.Time) {}, false)
	}
	if sent := w.notifications(t, user); len(sent) != 1 || !sent[0].Data.DecidedAt.Equal(t0) || sent[0].Data.Kind != activities.NotifyVerdict {
		t.Fatalf("notifications %+v: want one verdict, decided at the first receipt %s", sent, t0)
	}

	quiet, qid := "user-r7-notify-expired", "r7-notify-expired"
	w.emu.Put(veriff.Name, qid, nil)
	w.runAll(t, schedules.Skipping.Config, veriff.Name, qid, []schedules.Delivery{
		arrive(veriff.Name, t0, veriff.EventBody(qid, "a", quiet, veriff.Started)),
	}, func(time.Time) {}, false)
	sent := w.notifications(t, quiet)
	if len(sent) != 1 || sent[0].Data.Status != "expired" || !sent[0].Data.DecidedAt.Equal(t0) || sent[0].Data.Kind != activities.NotifySessionOutcome {
		t.Fatalf("expiry notifications %+v, want one expired session outcome decided at %s", sent, t0)
	}
}

// R2: a user approved in one session stays approved when a later session
// of theirs (a second device, a double click) never gets a decision and
// expires; the record shows that session's outcome beside the verdict.
func TestR2LaterSessionWithoutVerdictKeepsTheApproval(t *testing.T) {
	w := sharedWorld(t)
	t0 := time.Date(2026, 8, 4, 9, 0, 0, 0, time.UTC)
	user, first, second := "user-r2-second-device", "r2-first-device", "r2-second-device"
	w.emu.Put(veriff.Name, first, sim.JSON(veriff.Verification(first, "a", user, "approved", t0)))
	w.emu.Put(veriff.Name, second, nil)
	w.runAll(t, schedules.Skipping.Config, veriff.Name, first, []schedules.Delivery{
		arrive(veriff.Name, t0, veriff.DecisionBody(first, "a", user, "approved", t0)),
	}, func(time.Time) {}, false)
	w.runAll(t, schedules.Skipping.Config, veriff.Name, second, []schedules.Delivery{
		arrive(veriff.Name, t0.Add(90*time.Second), veriff.EventBody(second, "b", user, veriff.Started)),
	}, func(time.Time) {}, false)
	u, err := w.users.Get(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != "approved" || u.SessionID != first || u.LatestSession.SessionID != second || u.LatestSession.Status != "expired" {
		t.Fatalf("user %s of %s, latest %+v; want approved of %s, latest %s expired", u.Status, u.SessionID, u.LatestSession, first, second)
	}
}

// A session whose first webhook names the user only by endUserId takes the
// vendorData of a later decision, which docs/semantics.md ranks first.
func TestUserIDFromTheBestSource(t *testing.T) {
	w := sharedWorld(t)
	t0 := time.Date(2026, 8, 5, 9, 0, 0, 0, time.UTC)
	id, endUser, vendor := "user-id-best-source", "end-user-7", "vendor-user-7"
	w.runAll(t, schedules.Skipping.Config, veriff.Name, id, []schedules.Delivery{
		arrive(veriff.Name, t0, veriff.EndUserEventBody(id, "a", endUser, veriff.Started)),
		arrive(veriff.Name, t0.Add(time.Minute), veriff.DecisionBody(id, "a", vendor, "approved", t0.Add(time.Minute))),
	}, func(time.Time) {}, false)
	u, err := w.users.Get(context.Background(), vendor)
	if err != nil || u.Status != "approved" || u.UserIDSource != "vendorData" {
		t.Fatalf("vendorData's user: %+v, %v; want approved from vendorData", u, err)
	}
	if _, err := w.users.Get(context.Background(), endUser); err == nil {
		t.Fatal("the decision went to the endUserId's user too")
	}
}

// R10: a run that waits in a long write while webhooks keep coming hands
// over to a new run at its signal bound, without waiting for the write to
// end; the next run applies the decision.
func TestR10HandsOverDuringALongWrite(t *testing.T) {
	w := sharedWorld(t)
	defer func() { w.prepare = nil }()
	t0 := time.Date(2026, 8, 6, 9, 0, 0, 0, time.UTC)
	id, user := "r10-long-write", "user-r10-long-write"
	repeat := arrive(veriff.Name, t0, veriff.EventBody(id, "a", user, veriff.Started)).Ev
	store := newOutage(t, 20*time.Second) // the write "ends" at last
	w.prepare = func(env *testsuite.TestWorkflowEnvironment, run int) {
		if run > 0 {
			return // the next run's writes are quick
		}
		w.onWrite(env, func(ctx context.Context, u activities.UserUpdate, write writeFunc) (activities.UpdateResult, error) {
			store.hold(env, repeat, 2100) // the provider repeats itself meanwhile
			return write(ctx, u)
		})
	}
	runs := w.runAll(t, schedules.Skipping.Config, veriff.Name, id, []schedules.Delivery{
		arrive(veriff.Name, t0, veriff.DecisionBody(id, "a", user, "approved", t0)),
	}, func(time.Time) {}, false)
	if store.waitedOut() {
		t.Fatal("the run waited for the write to end before it handed over")
	}
	if st, _ := w.user(t, user); runs < 2 || st != "approved" {
		t.Fatalf("%d runs, user %s; want a handover and the approval", runs, st)
	}
}

// R5, R7: an untimed decision redelivered after close beside a newer one in
// the same instant: the run first takes the untimed one as the newest (its
// new receipt), the store orders it at its first receipt, and the run must
// then apply the newer one it already holds (found at -rapid.checks=500,
// seed 8248275565250864787, once untimed redeliveries were drawn).
func TestR7UntimedRepeatBesideANewerDecision(t *testing.T) {
	w := sharedWorld(t)
	sc := schedules.Skipping.Written("user-r7-untimed-beside-newer",
		schedules.Session{Provider: veriff.Name, ID: "0000dddd-0000-4000-8000-000000000001", At: 2 * time.Minute,
			Decisions: []schedules.Decision{
				{Status: "review", Early: []time.Duration{3 * time.Second}},
				{Status: "declined", Offset: time.Second, NoTime: true, ReasonCode: "102", Early: []time.Duration{600 * time.Second, time.Second, time.Second}, Again: []time.Duration{time.Second}},
				{Status: "review", Late: true, ReasonCode: "102", Again: []time.Duration{time.Second}},
			},
			Processed:  []time.Duration{600 * time.Second, 22 * time.Second},
			Screenings: []schedules.Screening{{Status: "no_match", Again: []time.Duration{17 * time.Second}}},
		})
	for _, i := range sc.RunOrder {
		w.runSession(t, sc.Sessions[i], sc.User)
	}
	schedules.Check(t, w.users, w.notifications(t, sc.User), sc, schedules.Model(sc), true)
}

package activities_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/userstore"
	_ "github.com/idvflow/idvflow/activities/userstore/drivers"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/record"
)

type recordingOnboarder struct {
	got  []onboarding.Change
	fail error
}

func (r *recordingOnboarder) Hand(_ context.Context, _ string, c onboarding.Change) error {
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, c)
	return nil
}

// testStore is a user store of the test's own, closed at its end.
func testStore(t *testing.T) *userstore.Store {
	t.Helper()
	users, err := userstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { users.Close() })
	return users
}

// R11: ApplyAndHandOver hands a change the record took to the user's
// onboarding once: not again when it is a duplicate (a later run, a
// redelivery), never when it is stale, and again after a hand-over that
// failed (the activity's retry), the store having applied the change.
func TestApplyAndHandOverHandsOverOnce(t *testing.T) {
	ctx := context.Background()
	users := testStore(t)
	ob := &recordingOnboarder{}
	a := &activities.Activities{Users: users, Onboarding: ob}
	t0 := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	decision := func(status string, at time.Time) activities.UserUpdate {
		return activities.UserUpdate{UserID: "u1", UserIDSource: "vendorData", Provider: "veriff", SessionID: "s1",
			Kind: record.KindDecision, Status: status, DecidedAt: at, ProviderTime: at}
	}

	ob.fail = errors.New("temporal unavailable")
	if _, err := a.ApplyAndHandOver(ctx, decision("approved", t0)); err == nil {
		t.Fatal("a failed hand-over must fail the activity, so Temporal retries it")
	}
	ob.fail = nil
	first, err := a.ApplyAndHandOver(ctx, decision("approved", t0)) // the retry
	if err != nil || first.Outcome != record.Duplicate {
		t.Fatalf("retry: %+v %v, want the duplicate of the applied change", first, err)
	}
	if _, err := a.ApplyAndHandOver(ctx, decision("approved", t0)); err != nil { // a later run meets it again
		t.Fatal(err)
	}
	if _, err := a.ApplyAndHandOver(ctx, decision("declined", t0.Add(-time.Hour))); err != nil { // older: stale
		t.Fatal(err)
	}
	screening := activities.UserUpdate{UserID: "u1", Provider: "veriff", SessionID: "s1", Kind: record.KindScreening,
		Status: "no_match", DecidedAt: t0, ProviderTime: t0}
	if _, err := a.ApplyAndHandOver(ctx, screening); err != nil {
		t.Fatal(err)
	}
	if len(ob.got) != 1 || ob.got[0].ID != first.ChangeID || ob.got[0].Status != "approved" || !ob.got[0].Verdict || !ob.got[0].At.Equal(t0) {
		t.Fatalf("handed over %+v; want the approval once, named and dated by the store", ob.got)
	}
}

type signalRecorder struct{ got []onboarding.Change }

func (s *signalRecorder) Signal(_ context.Context, _ string, c onboarding.Change) (bool, error) {
	s.got = append(s.got, c)
	return true, nil
}

// R11, a fleet whose workers differ: a worker without the onboarding's plan
// that writes a change of a run recorded by a worker with one (HandOver)
// leaves the change owed to the onboarding and signals an open run of it
// (starting none); a change of a run recorded without a plan is nobody's.
func TestWorkerWithoutThePlanOwesTheChangeOfARunWithOne(t *testing.T) {
	ctx := context.Background()
	users := testStore(t)
	open := &signalRecorder{}
	a := &activities.Activities{Users: users, OpenOnboarding: open} // no Onboarding: no plan
	t0 := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		user     string
		handOver bool
		owed     int
	}{
		{user: "u-plan", handOver: true, owed: 1},
		{user: "u-no-plan", handOver: false, owed: 0},
	} {
		u := activities.UserUpdate{UserID: tc.user, UserIDSource: "vendorData", Provider: "veriff", SessionID: "s-" + tc.user,
			Kind: record.KindDecision, Status: "approved", DecidedAt: t0, ProviderTime: t0, HandOver: tc.handOver}
		if _, err := a.ApplyAndHandOver(ctx, u); err != nil {
			t.Fatal(err)
		}
		owed, _, err := users.Owed(ctx, tc.user, 10, 1<<20)
		if err != nil || len(owed) != tc.owed {
			t.Errorf("%s: %d owed (%v), want %d", tc.user, len(owed), err, tc.owed)
		}
	}
	if len(open.got) != 1 || open.got[0].UserID != "u-plan" {
		t.Fatalf("signalled %+v; want the change of the run recorded with a plan, once", open.got)
	}
}

// R11: a change that a worker without the plan signalled to an open run of
// the onboarding is handed over: a redelivery of its decision in a later
// session run, on a worker with the plan, hands it nothing again (the open
// run may be one of 1.0, which never finishes a change: a second
// hand-over would run its steps twice).
func TestPlanlessHandOverIsHandedOnce(t *testing.T) {
	ctx := context.Background()
	users := testStore(t)
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	u := activities.UserUpdate{UserID: "u1", UserIDSource: "vendorData", Provider: "veriff", SessionID: "s1",
		Kind: record.KindDecision, Status: "approved", DecidedAt: t0, ProviderTime: t0, HandOver: true}
	open := &signalRecorder{}
	if _, err := (&activities.Activities{Users: users, OpenOnboarding: open}).ApplyAndHandOver(ctx, u); err != nil {
		t.Fatal(err)
	}
	again := &recordingOnboarder{}
	out, err := (&activities.Activities{Users: users, Onboarding: again}).ApplyAndHandOver(ctx, u)
	if err != nil || out.Outcome != record.Duplicate {
		t.Fatalf("redelivery: %+v %v", out, err)
	}
	if len(open.got) != 1 || len(again.got) != 0 {
		t.Fatalf("signalled %d, handed again %d; want the one signal only", len(open.got), len(again.got))
	}
}

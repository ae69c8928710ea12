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

// R11: ApplyAndHandOver hands a change the record took to the user's
// onboarding once: not again when it is a duplicate (a later run, a
// redelivery), never when it is stale, and again after a hand-over that
// failed (the activity's retry), the store having applied the change.
func TestApplyAndHandOverHandsOverOnce(t *testing.T) {
	ctx := context.Background()
	users, err := userstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close()
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

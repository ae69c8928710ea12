package activities_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/userstore"
	_ "github.com/idvflow/idvflow/activities/userstore/drivers"
	"github.com/idvflow/idvflow/record"
)

// Audit (R11 "Sessions started before ... so each of their decisions is
// notified once"; R11 Hand-over "a redelivery weeks later, or a later run
// that meets the change again, starts no steps"):
//
// A session started before onboarding was its own workflow (recorded
// Config.Handoff false) applies an approval and notifies the app itself;
// UpdateUser is called with Onboard=false, so the store never records a
// hand-over for the change. The run closes. Weeks later the provider
// redelivers the approval: a NEW run starts (SignalWithStart), records the
// current worker's config (Handoff=true), and writes the same change again
// with ApplyAndHandOver. The store answers `duplicate` and, having no row in
// handoffs for it, hands it to the user's onboarding: the app is notified a
// second time (and a review gate would ask a person to review a weeks-old
// approval).
func TestAuditLegacyChangeIsNotHandedOverAgain(t *testing.T) {
	ctx := context.Background()
	users, err := userstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close()
	ob := &recordingOnboarder{}
	a := &activities.Activities{Users: users, Onboarding: ob}
	t0 := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	approval := activities.UserUpdate{UserID: "u-legacy", UserIDSource: "vendorData", Provider: "veriff", SessionID: "s-legacy",
		Kind: record.KindDecision, Status: "approved", DecidedAt: t0, ProviderTime: t0}

	// 1. The session started before the change: it writes without Onboard
	// and runs its notify step itself (workflows/steps.go, Handoff false).
	first, err := a.UpdateUser(ctx, approval)
	if err != nil || first.Outcome != record.Applied {
		t.Fatalf("legacy write: %+v %v", first, err)
	}

	// 2. Weeks later, a redelivery starts a new run of the same session,
	// which records Handoff=true and so writes with Onboard=true.
	again, err := a.ApplyAndHandOver(ctx, approval)
	if err != nil || again.Outcome != record.Duplicate || again.ChangeID != first.ChangeID {
		t.Fatalf("redelivery: %+v %v", again, err)
	}
	if len(ob.got) != 0 {
		t.Fatalf("R11: the change %s, already notified by the pre-change session, was handed to onboarding again: %+v "+
			"(its steps run a second time)", first.ChangeID, ob.got)
	}
}

package userstore_test

// Issue 20 second audit (regression; fixed: age counts from now, and the
// receiver prunes on a timer): IDV_QUARANTINE_MAX_AGE ("an entry goes this long after its
// last delivery", README) is enforced only when another webhook is
// quarantined. A quarantine that receives nothing new keeps a sealed body
// of personal data past its bound, and lists it.

import (
	"context"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities/userstore"
)

func TestAudit20bQuarantineEntryGoesAfterMaxAge(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			lim := userstore.QuarantineLimits{MaxItems: 10000, MaxAge: 720 * time.Hour}
			// Kept 800 hours ago; nothing refused since (the usual case: the
			// quarantine is for rare refusals).
			last := time.Now().Add(-800 * time.Hour)
			if err := st.Quarantine(ctx, userstore.Quarantined{ID: "old", Provider: "veriff", Reason: "r", Body: []byte("sealed"), LastAt: last}, lim); err != nil {
				t.Fatal(err)
			}
			list, err := st.QuarantineList(ctx, userstore.QuarantineFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 0 {
				t.Fatalf("%d entries listed, one last delivered %s ago (IDV_QUARANTINE_MAX_AGE %s): it should have gone", len(list), time.Since(list[0].LastAt).Round(time.Hour), lim.MaxAge)
			}
			if _, err := st.QuarantineGet(ctx, "old"); err == nil {
				t.Fatal("its sealed body is still readable past IDV_QUARANTINE_MAX_AGE")
			}
		})
	}
}

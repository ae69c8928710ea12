package userstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities/userstore"
)

// The quarantine keeps at most MaxItems webhooks and none older than
// MaxAge, newest first; a redelivery counts on its entry.
func TestQuarantineBounds(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			lim := userstore.QuarantineLimits{MaxItems: 3, MaxAge: time.Hour}
			// Age counts from now: these were last delivered 50 to 45
			// minutes ago.
			t0 := time.Now().Add(-50 * time.Minute).UTC()
			put := func(id string, at time.Time) {
				t.Helper()
				if err := s.Quarantine(ctx, userstore.Quarantined{ID: id, Provider: "veriff", Reason: "r", LastAt: at}, lim); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 5 {
				put(fmt.Sprint("q", i), t0.Add(time.Duration(i)*time.Minute))
			}
			put("q4", t0.Add(5*time.Minute)) // delivered again
			list, err := s.QuarantineList(ctx, userstore.QuarantineFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 3 || list[0].ID != "q4" || list[0].Deliveries != 2 || list[2].ID != "q2" {
				t.Fatalf("by count: %+v", list)
			}
			put("stale", time.Now().Add(-2*time.Hour)) // past MaxAge: it goes at once
			list, _ = s.QuarantineList(ctx, userstore.QuarantineFilter{})
			if len(list) != 3 || list[0].ID != "q4" || list[2].ID != "q2" {
				t.Fatalf("by age: %+v", list)
			}
			// Pruned with a shorter age (as the receiver's timer does once
			// their time is up), the rest go too.
			if err := s.PruneQuarantine(ctx, userstore.QuarantineLimits{MaxItems: 3, MaxAge: 30 * time.Minute}); err != nil {
				t.Fatal(err)
			}
			if list, _ = s.QuarantineList(ctx, userstore.QuarantineFilter{}); len(list) != 0 {
				t.Fatalf("pruned by age: %+v", list)
			}
			if list, _ := s.QuarantineList(ctx, userstore.QuarantineFilter{Provider: "passbase"}); len(list) != 0 {
				t.Fatalf("by provider: %+v", list)
			}
		})
	}
}

// IDV_QUARANTINE_MAX_AGE ("an entry goes this long after its last
// delivery") holds even when no other webhook is quarantined: age counts
// from now, so a quarantine that receives nothing new neither lists an
// entry past its bound nor keeps its sealed body of personal data.
func TestQuarantineEntryGoesAfterMaxAgeWithNothingNewQuarantined(t *testing.T) {
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

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

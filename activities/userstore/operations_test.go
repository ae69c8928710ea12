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
			t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
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
			put("late", t0.Add(2*time.Hour))
			list, _ = s.QuarantineList(ctx, userstore.QuarantineFilter{})
			if len(list) != 1 || list[0].ID != "late" {
				t.Fatalf("by age: %+v", list)
			}
			if list, _ := s.QuarantineList(ctx, userstore.QuarantineFilter{Provider: "passbase"}); len(list) != 0 {
				t.Fatalf("by provider: %+v", list)
			}
		})
	}
}

package userstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities/userstore"
)

// R11, migration 6: a final decision applied before onboarding was a
// workflow of its own had its steps run by its session, so it counts as
// handed over; a non-final one, or one never applied, does not.
func TestMigrationCountsEarlierDecisionsHandedOver(t *testing.T) {
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "users.db")}
	if pg := os.Getenv("IDV_TEST_POSTGRES_URL"); pg != "" {
		urls["postgres"] = postgresSchema(t, pg)
	}
	keys := map[string]bool{ // key -> counts as handed over
		"decision|veriff|s1|u1|approved||2026-01-01T00:00:00Z":         true,
		"decision|veriff|s1|u1|expired||end@2026-01-01T00:00:01Z":      true,
		"decision|veriff|s1|u1|review||2026-01-01T00:00:02Z":           false,
		"screening|veriff|s1|u1|no_match||2026-01-01T00:00:03Z":        false,
		"decision|veriff|s2|u1|declined|102|event:decision/a/declined": true,
	}
	stale := "decision|veriff|s3|u1|approved||2025-12-01T00:00:00Z"
	id := func(key string) string {
		sum := sha256.Sum256([]byte(key))
		return hex.EncodeToString(sum[:16])
	}
	for name, dbURL := range urls {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := userstore.MigrateTo(ctx, dbURL, 5)
			if err != nil {
				t.Fatal(err)
			}
			for key := range keys {
				if _, err := db.ExecContext(ctx, `INSERT INTO change_log (change_key, outcome, at_us) VALUES ($1, 'applied', 0)`, key); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO change_log (change_key, outcome, at_us) VALUES ($1, 'stale', 0)`, stale); err != nil {
				t.Fatal(err)
			}
			db.Close()
			s, err := userstore.Open(ctx, dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got, err := s.Handed(ctx, id(stale)); err != nil || got {
				t.Errorf("%s (never applied): handed %v (%v), want false", stale, got, err)
			}
			for key, want := range keys {
				got, err := s.Handed(ctx, id(key))
				if err != nil || got != want {
					t.Errorf("%s: handed %v (%v), want %v", key, got, err, want)
				}
			}
			first, err := s.Take(ctx, id(stale), "run-a", time.Now())
			again, err2 := s.Take(ctx, id(stale), "run-a", time.Now())
			other, err3 := s.Take(ctx, id(stale), "run-b", time.Now())
			if !first || !again || other || err != nil || err2 != nil || err3 != nil {
				t.Fatalf("take: first %v, its retry %v, another run %v (%v %v %v); want true, true, false", first, again, other, err, err2, err3)
			}
		})
	}
}

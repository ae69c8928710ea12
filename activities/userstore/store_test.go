package userstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities/userstore"
)

// stores returns one fresh, migrated store per database the run can reach:
// SQLite always, PostgreSQL when IDV_TEST_POSTGRES_URL is set (CI sets it).
func stores(t *testing.T) map[string]*userstore.Store {
	t.Helper()
	out := map[string]*userstore.Store{"sqlite": OpenSQLite(t)}
	if pg := os.Getenv("IDV_TEST_POSTGRES_URL"); pg != "" {
		out["postgres"] = OpenPostgres(t, pg)
	}
	return out
}

// OpenSQLite opens a store in a new file under t.TempDir.
func OpenSQLite(t *testing.T) *userstore.Store {
	t.Helper()
	s, err := userstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// OpenPostgres opens a store in a schema of its own, dropped at the end.
func OpenPostgres(t *testing.T, base string) *userstore.Store {
	t.Helper()
	ctx := context.Background()
	schema := fmt.Sprintf("t_%d", time.Now().UnixNano())
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse IDV_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := userstore.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func decision(user, session, status string, at time.Time) userstore.Change {
	return userstore.Change{
		Key:          userstore.ChangeKey(userstore.KindDecision, "veriff", session, status, at),
		UserID:       user,
		UserIDSource: "vendorData",
		Kind:         userstore.KindDecision,
		Status:       status,
		Provider:     "veriff",
		SessionID:    session,
		DecidedAt:    at,
	}
}

func mustApply(t *testing.T, s *userstore.Store, c userstore.Change, want userstore.Outcome) {
	t.Helper()
	got, err := s.Apply(context.Background(), c)
	if err != nil {
		t.Fatalf("apply %s: %v", c.Status, err)
	}
	if got != want {
		t.Fatalf("apply %s at %s: outcome %q, want %q", c.Status, c.DecidedAt, got, want)
	}
}

func mustGet(t *testing.T, s *userstore.Store, user string) userstore.User {
	t.Helper()
	u, err := s.Get(context.Background(), user)
	if err != nil {
		t.Fatalf("get %s: %v", user, err)
	}
	return u
}

func TestApply(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("same decision twice is one change", func(t *testing.T) {
				c := decision("u1", "s1", "approved", t0)
				mustApply(t, s, c, userstore.Applied)
				mustApply(t, s, c, userstore.Duplicate)
				u := mustGet(t, s, "u1")
				if u.Status != "approved" || len(u.History) != 1 {
					t.Fatalf("got status %q with %d history rows, want approved with 1", u.Status, len(u.History))
				}
				if !u.DecidedAt.Equal(t0) {
					t.Fatalf("decided at %s, want %s", u.DecidedAt, t0)
				}
			})
			t.Run("older decision never overwrites a newer one", func(t *testing.T) {
				mustApply(t, s, decision("u2", "s2", "declined", t0.Add(time.Hour)), userstore.Applied)
				mustApply(t, s, decision("u2", "s2", "approved", t0), userstore.Stale)
				u := mustGet(t, s, "u2")
				if u.Status != "declined" || len(u.History) != 1 {
					t.Fatalf("got %q with %d history rows, want declined with 1", u.Status, len(u.History))
				}
			})
			t.Run("newer decision replaces and is recorded", func(t *testing.T) {
				mustApply(t, s, decision("u3", "s3", "review", t0), userstore.Applied)
				mustApply(t, s, decision("u3", "s3", "approved", t0.Add(time.Minute)), userstore.Applied)
				u := mustGet(t, s, "u3")
				if u.Status != "approved" || len(u.History) != 2 || u.History[0].Status != "review" {
					t.Fatalf("got %q with history %+v", u.Status, u.History)
				}
			})
			t.Run("same status learned again later changes nothing", func(t *testing.T) {
				mustApply(t, s, decision("u4", "s4", "approved", t0), userstore.Applied)
				mustApply(t, s, decision("u4", "s4", "approved", t0.Add(time.Minute)), userstore.Stale)
				if u := mustGet(t, s, "u4"); len(u.History) != 1 || !u.DecidedAt.Equal(t0) {
					t.Fatalf("got history %+v decided %s", u.History, u.DecidedAt)
				}
			})
			t.Run("screening updates only the screening status", func(t *testing.T) {
				mustApply(t, s, decision("u5", "s5", "approved", t0), userstore.Applied)
				sc := userstore.Change{Key: "screening|1", UserID: "u5", Kind: userstore.KindScreening,
					Status: "possible_match", Provider: "veriff", SessionID: "s5", DecidedAt: t0.Add(time.Hour)}
				mustApply(t, s, sc, userstore.Applied)
				older := sc
				older.Key, older.Status, older.DecidedAt = "screening|0", "no_match", t0
				mustApply(t, s, older, userstore.Stale)
				u := mustGet(t, s, "u5")
				if u.Status != "approved" || u.ScreeningStatus != "possible_match" || len(u.History) != 2 {
					t.Fatalf("got %+v", u)
				}
			})
			t.Run("unknown user", func(t *testing.T) {
				if _, err := s.Get(context.Background(), "nobody"); !errors.Is(err, userstore.ErrNotFound) {
					t.Fatalf("got %v, want ErrNotFound", err)
				}
			})
			t.Run("concurrent repeats apply once", func(t *testing.T) {
				c := decision("u6", "s6", "approved", t0)
				var wg sync.WaitGroup
				outcomes := make(chan userstore.Outcome, 8)
				for range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						o, err := s.Apply(context.Background(), c)
						if err != nil {
							t.Errorf("apply: %v", err)
						}
						outcomes <- o
					}()
				}
				wg.Wait()
				close(outcomes)
				applied := 0
				for o := range outcomes {
					if o == userstore.Applied {
						applied++
					}
				}
				if u := mustGet(t, s, "u6"); applied != 1 || len(u.History) != 1 {
					t.Fatalf("applied %d times, history %d rows; want 1 and 1", applied, len(u.History))
				}
			})
		})
	}
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	_, err := userstore.Open(context.Background(), "mysql://user:secret@host/db")
	if err == nil {
		t.Fatal("want an error for a mysql url")
	}
	if got := err.Error(); strings.Contains(got, "secret") {
		t.Fatalf("error leaks the password: %s", got)
	}
}

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

	_ "github.com/idvflow/idvflow/activities/userstore/drivers" // the store's SQL drivers

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
		UserID:       user,
		UserIDSource: "vendorData",
		Kind:         userstore.KindDecision,
		Status:       status,
		Provider:     "veriff",
		SessionID:    session,
		ProviderTime: at,
		At:           at,
	}
}

func mustApply(t *testing.T, s *userstore.Store, c userstore.Change, want userstore.Outcome) {
	t.Helper()
	got, err := s.Apply(context.Background(), c)
	if err != nil {
		t.Fatalf("apply %s: %v", c.Status, err)
	}
	if got != want {
		t.Fatalf("apply %s at %s: outcome %q, want %q", c.Status, c.At, got, want)
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
			// R2: the same content later is no new change, but the record's
			// order key moves, so an older decision of another session
			// cannot slip in between.
			t.Run("R2 same status learned again later writes no history row", func(t *testing.T) {
				mustApply(t, s, decision("u4", "s4", "approved", t0), userstore.Applied)
				mustApply(t, s, decision("u4", "s4", "approved", t0.Add(time.Minute)), userstore.Stale)
				if u := mustGet(t, s, "u4"); len(u.History) != 1 || !u.DecidedAt.Equal(t0.Add(time.Minute)) {
					t.Fatalf("got history %+v decided %s", u.History, u.DecidedAt)
				}
				mustApply(t, s, decision("u4", "s4b", "declined", t0.Add(30*time.Second)), userstore.Stale)
				if u := mustGet(t, s, "u4"); u.Status != "approved" {
					t.Fatalf("an older decision replaced the record: %+v", u)
				}
			})
			t.Run("R6 screening updates only the screening status", func(t *testing.T) {
				mustApply(t, s, decision("u5", "s5", "approved", t0), userstore.Applied)
				sc := userstore.Change{UserID: "u5", Kind: userstore.KindScreening,
					Status: "possible_match", Provider: "veriff", SessionID: "s5", ProviderTime: t0.Add(time.Hour), At: t0.Add(time.Hour)}
				mustApply(t, s, sc, userstore.Applied)
				older := sc
				older.Status, older.ProviderTime, older.At = "no_match", t0, t0
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

func TestRecordRules(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("R3 equal times: a final decision beats a non-final one, in either order", func(t *testing.T) {
				mustApply(t, s, decision("r3a", "s", "pending", t0), userstore.Applied)
				mustApply(t, s, decision("r3a", "s", "approved", t0), userstore.Applied)
				mustApply(t, s, decision("r3b", "s", "approved", t0), userstore.Applied)
				mustApply(t, s, decision("r3b", "s", "pending", t0), userstore.Stale)
				for _, u := range []string{"r3a", "r3b"} {
					if got := mustGet(t, s, u).Status; got != "approved" {
						t.Fatalf("%s: status %q, want approved", u, got)
					}
				}
			})
			t.Run("R4 a session end never replaces a decision made after the session began", func(t *testing.T) {
				old := decision("r4", "old", "review", t0)
				old.SessionBegan = t0.Add(-time.Hour)
				mustApply(t, s, old, userstore.Applied)
				mustApply(t, s, decision("r4", "new", "approved", t0.Add(time.Hour)), userstore.Applied)
				// days later the old session expires: it is ordered at its own
				// last decision (t0), before the approval
				end := userstore.Change{UserID: "r4", Kind: userstore.KindDecision, Status: "expired", Provider: "veriff",
					SessionID: "old", At: t0, SessionEnd: true, SessionBegan: t0.Add(48 * time.Hour)}
				mustApply(t, s, end, userstore.Stale)
				// a later run of it that knows no decision is ordered at when
				// the session began, which the first change recorded
				end.At, end.SessionBegan = time.Time{}, t0.Add(72*time.Hour)
				mustApply(t, s, end, userstore.Stale)
				if u := mustGet(t, s, "r4"); u.Status != "approved" {
					t.Fatalf("status %q, want approved", u.Status)
				}
			})
			t.Run("R4 a session end follows everything its session said", func(t *testing.T) {
				mustApply(t, s, decision("r4b", "s", "review", t0), userstore.Applied)
				end := userstore.Change{UserID: "r4b", Kind: userstore.KindDecision, Status: "expired", Provider: "veriff",
					SessionID: "s", At: t0, SessionEnd: true, SessionBegan: t0.Add(-time.Hour)}
				mustApply(t, s, end, userstore.Applied)
				mustApply(t, s, end, userstore.Duplicate)
				if u := mustGet(t, s, "r4b"); u.Status != "expired" || len(u.History) != 2 {
					t.Fatalf("got %+v", u)
				}
			})
			t.Run("R7 the same decision for the real user id is not a duplicate of the fallback's", func(t *testing.T) {
				mustApply(t, s, decision("identity-key", "s7", "approved", t0), userstore.Applied)
				mustApply(t, s, decision("real-user", "s7", "approved", t0), userstore.Applied)
			})
			t.Run("R7 a decision without provider time is one change however late it is repeated", func(t *testing.T) {
				c := decision("r7", "s", "approved", time.Time{})
				c.At = t0
				mustApply(t, s, c, userstore.Applied)
				c.At = t0.Add(240 * time.Hour) // received again ten days later, by a new run
				mustApply(t, s, c, userstore.Duplicate)
				if u := mustGet(t, s, "r7"); !u.DecidedAt.Equal(t0) {
					t.Fatalf("decided at %s, want %s", u.DecidedAt, t0)
				}
			})
			t.Run("R9 strings the database cannot hold fail for good", func(t *testing.T) {
				for _, c := range []userstore.Change{
					decision("nul\x00user", "s", "approved", t0),
					decision(strings.Repeat("u", 256), "s", "approved", t0),
					decision("u", "s", "\xff", t0),
				} {
					if _, err := s.Apply(context.Background(), c); !errors.Is(err, userstore.ErrInvalid) {
						t.Fatalf("apply %q: %v, want ErrInvalid", c.UserID, err)
					}
				}
			})
		})
	}
}

// R7: an attempt of a change that overlaps another attempt of it (a retry
// while the first still commits) answers "duplicate", never "stale", so the
// notify step still runs. The first attempt is held just before its commit
// while the second starts.
func TestR7OverlappingAttemptIsDuplicate(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			c := decision("overlap-1", "s", "approved", t0)
			// attempt applies c in the background and yields its outcome.
			attempt := func() <-chan userstore.Outcome {
				out := make(chan userstore.Outcome)
				go func() {
					o, err := s.Apply(context.Background(), c)
					if err != nil {
						t.Error(err)
					}
					out <- o
				}()
				return out
			}
			held, release := make(chan struct{}), make(chan struct{})
			s.SetBeforeCommit(func() { close(held); <-release })
			first := attempt()
			<-held
			s.SetBeforeCommit(nil)
			second := attempt()
			// The second attempt now waits on the first: on PostgreSQL's
			// lock of the change's key, on SQLite's one connection.
			time.Sleep(200 * time.Millisecond)
			close(release)
			if o1, o2 := <-first, <-second; o1 != userstore.Applied || o2 != userstore.Duplicate {
				t.Fatalf("outcomes %q then %q, want applied then duplicate", o1, o2)
			}
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

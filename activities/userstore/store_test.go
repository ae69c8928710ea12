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

// databases returns, by name, the URL of one new, empty database per
// database the run can reach (as stores does), for tests that write it
// beside the store.
func databases(t *testing.T) map[string]string {
	t.Helper()
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "users.db")}
	if pg := os.Getenv("IDV_TEST_POSTGRES_URL"); pg != "" {
		urls["postgres"] = postgresSchema(t, pg)
	}
	return urls
}

// rawDB opens the database at a store URL with its SQL driver, closed at
// the test's end.
func rawDB(t *testing.T, storeURL string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", storeURL
	if p, ok := strings.CutPrefix(storeURL, "sqlite:"); ok {
		driver, dsn = "sqlite", p
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
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
	s, err := userstore.Open(context.Background(), postgresSchema(t, base))
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// postgresSchema makes a schema of its own under base, dropped at the end,
// and returns the URL that uses it.
func postgresSchema(t *testing.T, base string) string {
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
	return u.String()
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

func mustApply(t *testing.T, s *userstore.Store, c userstore.Change, want userstore.Outcome) userstore.Result {
	t.Helper()
	got, err := s.Apply(context.Background(), c)
	if err != nil {
		t.Fatalf("apply %s: %v", c.Status, err)
	}
	if got.Outcome != want {
		t.Fatalf("apply %s at %s: outcome %q, want %q", c.Status, c.At, got.Outcome, want)
	}
	return got
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
				mustApply(t, s, decision("u2", "s2", "review", t0), userstore.Stale)
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
						outcomes <- o.Outcome
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
			t.Run("R4 a session began at the earliest receipt any of its runs knew", func(t *testing.T) {
				// The run that wrote first began at its own first receipt;
				// a later run was handed an earlier one (an operator's retry
				// of a run that ended before its end).
				first := decision("r4e", "r4e-session", "resubmission_requested", t0)
				first.SessionBegan = t0.Add(12 * time.Second)
				mustApply(t, s, first, userstore.Applied)
				end := userstore.Change{UserID: "r4e", Kind: userstore.KindDecision, Status: "expired", Provider: "veriff",
					SessionID: "r4e-session", SessionEnd: true, SessionBegan: t0.Add(5 * time.Second)}
				mustApply(t, s, end, userstore.Applied)
				if u := mustGet(t, s, "r4e"); u.Status != "expired" || !u.DecidedAt.Equal(t0.Add(5*time.Second)) {
					t.Fatalf("%s at %s, want expired at %s (the earliest receipt)", u.Status, u.DecidedAt, t0.Add(5*time.Second))
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
					out <- o.Outcome
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

// The store is the session's memory (docs/semantics.md R2, R4, R7): what
// it answers for a change is what every run adopts.
func TestStoreAuthority(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	end := func(user, session, status string) userstore.Change {
		return userstore.Change{UserID: user, UserIDSource: "vendorData", Kind: userstore.KindDecision, Status: status,
			Provider: "veriff", SessionID: session, SessionEnd: true, Reason: "r"}
	}
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("R7 a repeat is answered with the order time and id the change was first taken with", func(t *testing.T) {
				c := decision("a1", "s", "resubmission_requested", time.Time{})
				c.At, c.EventID, c.SessionBegan = t0, "decision/1/resubmission_requested/-", t0
				first := mustApply(t, s, c, userstore.Applied)
				c.At, c.SessionBegan = t0.Add(60*24*time.Hour), t0.Add(60*24*time.Hour) // again, 60 days later, in a new run
				again := mustApply(t, s, c, userstore.Duplicate)
				if !again.At.Equal(t0) || again.ChangeID != first.ChangeID || first.ChangeID == "" {
					t.Fatalf("repeat answered %+v, first %+v; want the first's time %s and id", again, first, t0)
				}
				if strings.Contains(first.ChangeID, "a1") {
					t.Fatalf("change id %q shows the user id", first.ChangeID)
				}
			})
			t.Run("R4 a session end is ordered from what the store holds of the session, not the run's time", func(t *testing.T) {
				c := decision("a2", "s2", "review", t0.Add(time.Hour))
				c.SessionBegan = t0
				mustApply(t, s, c, userstore.Applied)
				e := end("a2", "s2", "expired")
				e.At, e.SessionBegan = t0.Add(90*24*time.Hour), t0.Add(90*24*time.Hour) // a run that thinks otherwise
				got := mustApply(t, s, e, userstore.Applied)
				if !got.At.Equal(t0.Add(time.Hour)) {
					t.Fatalf("end ordered at %s, want the session's last decision %s", got.At, t0.Add(time.Hour))
				}
				if got.Session.Status != "review" || !got.Session.At.Equal(t0.Add(time.Hour)) {
					t.Fatalf("session answer %+v, want review at %s", got.Session, t0.Add(time.Hour))
				}
				// A session without decisions ends at when it began.
				first := userstore.Change{UserID: "a2", Kind: userstore.KindScreening, Status: "no_match", Provider: "veriff",
					SessionID: "s2b", At: t0, SessionBegan: t0.Add(2 * time.Hour)}
				mustApply(t, s, first, userstore.Applied)
				got = mustApply(t, s, end("a2", "s2b", "expired"), userstore.Applied)
				if !got.At.Equal(t0.Add(2 * time.Hour)) {
					t.Fatalf("end of a session without decisions at %s, want when it began", got.At)
				}
			})
			t.Run("R7 the session answer is its greatest decision, whichever run applied it", func(t *testing.T) {
				mustApply(t, s, decision("a3", "s3", "declined", t0.Add(time.Hour)), userstore.Applied)
				got := mustApply(t, s, decision("a3", "s3", "review", t0), userstore.Stale)
				if got.Session.Status != "declined" || !got.Session.At.Equal(t0.Add(time.Hour)) {
					t.Fatalf("session answer %+v, want declined", got.Session)
				}
			})
		})
	}
}

// R2: a verdict (approved, declined) changes only by a newer verdict;
// session outcomes show as the latest session beside it.
func TestVerdicts(t *testing.T) {
	t0 := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			latest := func(u userstore.User) string { return u.LatestSession.SessionID + "/" + u.LatestSession.Status }
			t.Run("a later session that expires leaves the approval", func(t *testing.T) {
				mustApply(t, s, decision("v1", "first", "approved", t0), userstore.Applied)
				e := userstore.Change{UserID: "v1", UserIDSource: "vendorData", Kind: userstore.KindDecision, Status: "expired",
					Provider: "veriff", SessionID: "second", SessionEnd: true, SessionBegan: t0.Add(time.Minute), Reason: "no final decision"}
				mustApply(t, s, e, userstore.Applied)
				u := mustGet(t, s, "v1")
				if u.Status != "approved" || u.SessionID != "first" || latest(u) != "second/expired" || len(u.History) != 2 {
					t.Fatalf("got status %s of %s, latest %s, %d rows; want approved of first, latest second/expired, 2 rows",
						u.Status, u.SessionID, latest(u), len(u.History))
				}
			})
			for _, st := range []string{"abandoned", "expired", "review", "resubmission_requested", "pending", "error"} {
				t.Run("a later "+st+" leaves the approval", func(t *testing.T) {
					user := "v-" + st
					mustApply(t, s, decision(user, "first", "approved", t0), userstore.Applied)
					mustApply(t, s, decision(user, "second", st, t0.Add(time.Hour)), userstore.Applied)
					if u := mustGet(t, s, user); u.Status != "approved" || latest(u) != "second/"+st {
						t.Fatalf("status %s, latest %s", u.Status, latest(u))
					}
				})
			}
			t.Run("a newer verdict replaces the verdict", func(t *testing.T) {
				mustApply(t, s, decision("v2", "first", "approved", t0), userstore.Applied)
				mustApply(t, s, decision("v2", "second", "expired", t0.Add(time.Hour)), userstore.Applied)
				mustApply(t, s, decision("v2", "third", "declined", t0.Add(2*time.Hour)), userstore.Applied)
				if u := mustGet(t, s, "v2"); u.Status != "declined" || latest(u) != "third/declined" {
					t.Fatalf("status %s, latest %s", u.Status, latest(u))
				}
			})
			t.Run("an older verdict after a newer session outcome becomes the status", func(t *testing.T) {
				mustApply(t, s, decision("v3", "second", "review", t0.Add(time.Hour)), userstore.Applied)
				mustApply(t, s, decision("v3", "first", "approved", t0), userstore.Applied)
				if u := mustGet(t, s, "v3"); u.Status != "approved" || latest(u) != "second/review" {
					t.Fatalf("status %s, latest %s", u.Status, latest(u))
				}
				mustApply(t, s, decision("v3", "zero", "declined", t0.Add(-time.Hour)), userstore.Stale)
			})
			t.Run("the same session re-reviewed from approved to review keeps the verdict", func(t *testing.T) {
				mustApply(t, s, decision("v4", "s", "approved", t0), userstore.Applied)
				mustApply(t, s, decision("v4", "s", "review", t0.Add(time.Hour)), userstore.Applied)
				if u := mustGet(t, s, "v4"); u.Status != "approved" || latest(u) != "s/review" {
					t.Fatalf("status %s, latest %s", u.Status, latest(u))
				}
				mustApply(t, s, decision("v4", "s", "declined", t0.Add(2*time.Hour)), userstore.Applied)
				if u := mustGet(t, s, "v4"); u.Status != "declined" {
					t.Fatalf("status %s, want declined", u.Status)
				}
			})
			t.Run("before any verdict the status is the newest session outcome", func(t *testing.T) {
				mustApply(t, s, decision("v5", "s", "review", t0), userstore.Applied)
				mustApply(t, s, decision("v5", "s2", "expired", t0.Add(time.Hour)), userstore.Applied)
				if u := mustGet(t, s, "v5"); u.Status != "expired" || latest(u) != "s2/expired" {
					t.Fatalf("status %s, latest %s", u.Status, latest(u))
				}
			})
		})
	}
}

// R6: equal-time screenings whose statuses differ only in case or
// punctuation end the same on every database: byte order, as in Go. (On
// PostgreSQL this needs a database whose collation is not C: .ci/run makes
// its test database with ICU's en-US.)
func TestR6ScreeningStatusesCompareAsBytes(t *testing.T) {
	t0 := time.Date(2026, 4, 3, 10, 0, 0, 0, time.UTC)
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for i, order := range [][]string{{"no_match", "No_match"}, {"No_match", "no_match"}, {"no-match", "no_match"}, {"no_match", "no-match"}} {
				user := fmt.Sprintf("r6-%d", i)
				mustApply(t, s, decision(user, "s", "approved", t0), userstore.Applied)
				for _, st := range order {
					sc := userstore.Change{UserID: user, Kind: userstore.KindScreening, Status: st, Provider: "veriff",
						SessionID: "s", ProviderTime: t0, At: t0, EventID: st}
					if _, err := s.Apply(context.Background(), sc); err != nil {
						t.Fatal(err)
					}
				}
				want := order[0]
				if order[1] > want {
					want = order[1]
				}
				if got := mustGet(t, s, user).ScreeningStatus; got != want {
					t.Fatalf("%v: screening %q, want %q (byte order)", order, got, want)
				}
			}
		})
	}
}

// A database a development build wrote before 1.0 (goose versions 1 to 8)
// is refused at start with what it is and what to do, and left as it is:
// 1.0 migrates no pre-release schema, not even half-way.
func TestOpenRefusesADatabaseOfADevelopmentBuild(t *testing.T) {
	for name, dbURL := range databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := rawDB(t, dbURL)
			// What a pre-1.0 build left: goose's table at version 8, a
			// users table of its own shape.
			for _, q := range []string{
				`CREATE TABLE goose_db_version (id BIGINT PRIMARY KEY, version_id BIGINT NOT NULL, is_applied BOOLEAN NOT NULL)`,
				`INSERT INTO goose_db_version (id, version_id, is_applied) VALUES (1, 0, true), (2, 1, true), (3, 2, true), (4, 3, true), (5, 8, true)`,
				`CREATE TABLE users (user_id TEXT PRIMARY KEY, status TEXT NOT NULL)`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			s, err := userstore.Open(ctx, dbURL)
			if err == nil {
				s.Close()
				t.Fatal("Open took a database written before 1.0")
			}
			if !errors.Is(err, userstore.ErrPreRelease) || !strings.Contains(err.Error(), "1, 2, 3, 8") ||
				!strings.Contains(err.Error(), "IDV_DATABASE_URL") || !strings.Contains(err.Error(), "./.idvflow") {
				t.Fatalf("error %q: want ErrPreRelease naming the versions found and what to do", err)
			}
			var versions int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM goose_db_version`).Scan(&versions); err != nil || versions != 5 {
				t.Fatalf("goose's table has %d rows (%v) after the refusal, want the 5 it had", versions, err)
			}
			if _, err := db.ExecContext(ctx, `SELECT user_id FROM change_log`); err == nil {
				t.Fatal("the refused database got 1.0's tables")
			}
		})
	}
}

// A 1.0 database opens again as it was: its rows are kept, and a repeat
// of a change it took is a duplicate.
func TestOpenAgainKeepsTheRows(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "users.db")
	for _, want := range []userstore.Outcome{userstore.Applied, userstore.Duplicate} {
		s, err := userstore.Open(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		mustApply(t, s, decision("u-twice", "s1", "approved", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)), want)
		s.Close()
	}
}

// R11, the take's identity: a change is its onboarding's (the workflow id)
// until its steps have all run; every run of that onboarding may take it
// until then, no other onboarding ever, and nobody after it is finished.
func TestTakeIsTheOnboardingsUntilFinished(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx, now := context.Background(), time.Now()
			take := func(change, taker string) bool {
				t.Helper()
				ok, err := s.Take(ctx, change, taker, now)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			steps := []struct {
				name, change, taker string
				finish              bool
				want                bool
			}{
				{name: "first take", change: "c1", taker: "onboarding:u1", want: true},
				{name: "a later run of the same onboarding", change: "c1", taker: "onboarding:u1", want: true},
				{name: "another onboarding", change: "c1", taker: "onboarding:u1-hashed", want: false},
				{name: "after its steps ran", change: "c1", taker: "onboarding:u1", finish: true, want: false},
				{name: "a 1.0 take named by its run", change: "c2", taker: "onboarding:u2/run-a", want: true},
				{name: "read by the onboarding's id", change: "c2", taker: "onboarding:u2", want: true},
			}
			for _, st := range steps {
				if st.finish {
					if err := s.FinishTake(ctx, st.change, now); err != nil {
						t.Fatal(err)
					}
				}
				if got := take(st.change, st.taker); got != st.want {
					t.Errorf("%s: take %s by %s = %v, want %v", st.name, st.change, st.taker, got, st.want)
				}
			}
		})
	}
}

// R11: the store owes a user's onboarding each change handed to it until
// every step of it ran, whatever run it reached: a change taken by a run
// that records the finish and not finished is still owed (that run was
// terminated), a finished one is not, nor one taken by a run of 1.0 (which
// records no finish), and owing it again after its finish changes
// nothing. A read is one user's, in the sort keys' order (the record's),
// within its bounds.
func TestOwedUntilItsStepsRan(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx, t0 := context.Background(), time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
			owe := func(change, user string, key byte) {
				t.Helper()
				if err := s.Owe(ctx, change, user, []byte{key}, []byte(`{"id":"`+change+`"}`), t0); err != nil {
					t.Fatal(err)
				}
			}
			owed := func(user string, maxN, maxBytes int) (string, bool) {
				t.Helper()
				got, more, err := s.Owed(ctx, user, maxN, maxBytes)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, b := range got {
					ids = append(ids, strings.TrimSuffix(strings.TrimPrefix(string(b), `{"id":"`), `"}`))
				}
				return strings.Join(ids, ","), more
			}
			take := func(change string, toFinish bool) {
				t.Helper()
				take := s.Take
				if toFinish {
					take = s.TakeToFinish
				}
				if _, err := take(ctx, change, "onboarding:u1", t0); err != nil {
					t.Fatal(err)
				}
			}
			owe("c2", "u1", 2)
			owe("c1", "u1", 1)
			owe("c3", "u1", 3)
			owe("c4", "u1", 4)
			owe("c9", "u2", 0)
			owe("c1", "u1", 9) // a repeated hand-over
			take("c2", true)
			take("c3", true)
			if err := s.FinishTake(ctx, "c3", t0); err != nil {
				t.Fatal(err)
			}
			owe("c3", "u1", 3) // handed again after its steps ran
			take("c4", false)  // by a run of 1.0

			steps := []struct {
				name     string
				user     string
				maxN     int
				maxBytes int
				want     string
				more     bool
			}{
				{name: "taken to finish and not finished, and not taken", user: "u1", maxN: 10, maxBytes: 1 << 10, want: "c1,c2"},
				{name: "another user's", user: "u2", maxN: 10, maxBytes: 1 << 10, want: "c9"},
				{name: "nobody's", user: "u3", maxN: 10, maxBytes: 1 << 10, want: ""},
				{name: "at most maxN", user: "u1", maxN: 1, maxBytes: 1 << 10, want: "c1", more: true},
				{name: "at most maxBytes past the first", user: "u1", maxN: 10, maxBytes: 1, want: "c1", more: true},
			}
			for _, st := range steps {
				if got, more := owed(st.user, st.maxN, st.maxBytes); got != st.want || more != st.more {
					t.Errorf("%s: owed %q (more %v), want %q (more %v)", st.name, got, more, st.want, st.more)
				}
			}
			take("c4", true) // a run that finishes takes it again: owed until it does
			if got, _ := owed("u1", 10, 1<<10); got != "c1,c2,c4" {
				t.Errorf("after a take to finish of c4: owed %q, want c1,c2,c4", got)
			}
			counts, err := s.RowCounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if counts["onboarding_owed"] != 4 {
				t.Errorf("%d rows owed, want 4 (a finished change's row is dropped)", counts["onboarding_owed"])
			}
		})
	}
}

// R11: a take to finish records the take and that it is one to finish in
// one write, so no failure between two writes can leave the change taken
// and no longer owed (which would drop it if its run were then
// terminated). Here a trigger refuses any later write of the mark: the
// take of an untaken change still succeeds and the change stays owed; a
// change a run of 1.1 took, whose mark the take to finish must add, makes
// the take fail as a whole (one transaction), and it is retried.
func TestTakeToFinishKeepsTheChangeOwed(t *testing.T) {
	for name, dbURL := range databases(t) {
		t.Run(name, func(t *testing.T) {
			ctx, t0 := context.Background(), time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
			s, err := userstore.Open(ctx, dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			install := []string{
				`CREATE FUNCTION refuse_finishes() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'store went away'; END $$ LANGUAGE plpgsql`,
				`CREATE TRIGGER refuse_finishes BEFORE UPDATE OF finishes ON onboarding_taken FOR EACH ROW EXECUTE FUNCTION refuse_finishes()`,
			}
			if name == "sqlite" {
				install = []string{`CREATE TRIGGER refuse_finishes BEFORE UPDATE OF finishes ON onboarding_taken BEGIN SELECT RAISE(ABORT, 'store went away'); END`}
			}
			raw := rawDB(t, dbURL)
			for _, c := range []string{"c1", "c2"} {
				if err := s.Owe(ctx, c, "u1", []byte(c), []byte(`{"id":"`+c+`"}`), t0); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Take(ctx, "c2", "onboarding:u1", t0); err != nil { // by a run of 1.1
				t.Fatal(err)
			}
			for _, q := range install {
				if _, err := raw.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if ok, err := s.TakeToFinish(ctx, "c1", "onboarding:u1", t0); err != nil || !ok {
				t.Fatalf("take of c1: %v %v", ok, err)
			}
			if _, err := s.TakeToFinish(ctx, "c2", "onboarding:u1", t0); err == nil {
				t.Fatal("the take of c2, whose mark the trigger refuses, did not fail")
			}
			got, _, err := s.Owed(ctx, "u1", 10, 1<<20)
			if err != nil || len(got) != 1 || string(got[0]) != `{"id":"c1"}` {
				t.Fatalf("owed %q (%v); want c1, taken to finish and not finished", got, err)
			}
		})
	}
}

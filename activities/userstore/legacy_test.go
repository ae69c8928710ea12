package userstore_test

// Migrations 00003 and 4 on rows the store wrote before them (issue 19,
// found by an outside review, each failing before its fix).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities/userstore"
)

// legacyRows returns, per database, a URL migrated to version 2 with the
// rows the store wrote before 00003 (its key format is unchanged).
func legacyRows(t *testing.T, rows []string) map[string]string {
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "users.db")}
	if pg := os.Getenv("IDV_TEST_POSTGRES_URL"); pg != "" {
		urls["postgres"] = postgresSchema(t, pg)
	}
	for name, u := range urls {
		db, err := userstore.MigrateTo(context.Background(), u, 2)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, q := range rows {
			if _, err := db.ExecContext(context.Background(), q); err != nil {
				t.Fatalf("%s: %s: %v", name, q, err)
			}
		}
		db.Close()
	}
	return urls
}

// R7: "A repeat ... is answered from the store's log of changes ... with
// the order time it was first taken with", so "a decision without a
// provider time is ordered by its first receipt in whatever run it comes
// again". An untimed decision applied before the deploy (its order time is
// in user_changes under the same change key) comes again 60 days later:
// the store must answer its first receipt, not the run's new one.
func TestR7UntimedChangeLoggedBeforeMigrationKeepsItsFirstReceipt(t *testing.T) {
	first := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	again := first.Add(60 * 24 * time.Hour)
	key := "decision|veriff|s1|m1|resubmission_requested||event:fullauto/a1/resubmission_requested"
	us := fmt.Sprint(first.UnixMicro())
	urls := legacyRows(t, []string{
		`INSERT INTO users (user_id, status, provider, session_id, user_id_source, decided_at_us, decision_rank, reason_code, reason, updated_at_us)
		 VALUES ('m1', 'resubmission_requested', 'veriff', 's1', 'vendorData', ` + us + `, 1, '', '', 0)`,
		`INSERT INTO user_changes (change_key, user_id, kind, status, provider, session_id, decided_at_us, reason_code, reason, applied_at_us)
		 VALUES ('` + key + `', 'm1', 'decision', 'resubmission_requested', 'veriff', 's1', ` + us + `, '', '', 0)`,
		`INSERT INTO change_log (change_key, outcome) VALUES ('` + key + `', 'applied')`,
		`INSERT INTO sessions (provider, session_id, began_at_us) VALUES ('veriff', 's1', ` + us + `)`,
	})
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			s, err := userstore.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := mustApply(t, s, userstore.Change{UserID: "m1", UserIDSource: "vendorData", Kind: userstore.KindDecision,
				Status: "resubmission_requested", Provider: "veriff", SessionID: "s1", EventID: "fullauto/a1/resubmission_requested",
				At: again, SessionBegan: again}, userstore.Duplicate)
			if !got.At.Equal(first) {
				t.Fatalf("R7: the repeat of a change applied before the migration is ordered at %s (the new receipt), want its first receipt %s",
					got.At, first)
			}
		})
	}
}

// R2: "a verdict changes only by a newer verdict"; the record's status is
// the greatest verdict of all decisions the store took. Before 00003 a
// user's later session expired first (ordered at when it began), then the
// earlier session's approval arrived and was logged stale (old rule: older
// than the expiry). After the migration the approval is the user's only
// verdict, and its redelivery must make it the status.
func TestR2VerdictLoggedStaleBeforeMigration(t *testing.T) {
	t0 := time.Date(2026, 1, 6, 9, 0, 0, 0, time.UTC)
	approvedAt, secondBegan := t0, t0.Add(90*time.Second)
	approvedKey := "decision|veriff|s1|m2|approved||" + approvedAt.Format(time.RFC3339Nano)
	endKey := "decision|veriff|s2|m2|expired||end@" + secondBegan.Format(time.RFC3339Nano)
	a, b := fmt.Sprint(approvedAt.UnixMicro()), fmt.Sprint(secondBegan.UnixMicro())
	urls := legacyRows(t, []string{
		`INSERT INTO users (user_id, status, provider, session_id, user_id_source, decided_at_us, decision_rank, reason_code, reason, updated_at_us)
		 VALUES ('m2', 'expired', 'veriff', 's2', 'vendorData', ` + b + `, 3, '', 'no final decision before IDV_SESSION_EXPIRY', 0)`,
		`INSERT INTO user_changes (change_key, user_id, kind, status, provider, session_id, decided_at_us, reason_code, reason, applied_at_us)
		 VALUES ('` + endKey + `', 'm2', 'decision', 'expired', 'veriff', 's2', ` + b + `, '', 'no final decision before IDV_SESSION_EXPIRY', 0)`,
		`INSERT INTO change_log (change_key, outcome) VALUES ('` + endKey + `', 'applied'), ('` + approvedKey + `', 'stale')`,
		`INSERT INTO sessions (provider, session_id, began_at_us) VALUES ('veriff', 's2', ` + b + `), ('veriff', 's1', ` + a + `)`,
	})
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			s, err := userstore.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			res, err := s.Apply(context.Background(), decision("m2", "s1", "approved", approvedAt))
			if err != nil {
				t.Fatal(err)
			}
			if u := mustGet(t, s, "m2"); u.Status != "approved" {
				t.Fatalf("R2: the user's only verdict (s1 approved, redelivered after the migration: %s) is not the status: %s of %s, latest %s of %s",
					res.Outcome, u.Status, u.SessionID, u.LatestSession.Status, u.LatestSession.SessionID)
			}
		})
	}
}

// Migration 00003 fills each session's greatest decision with three
// correlated subqueries over user_changes per session row, filtered by
// (provider, session_id): no index covers them (user_changes is indexed by
// user_id and change_key only), so on SQLite every session row scans the
// whole history table three times: sessions × changes row visits, run by
// Open at the worker's start. A store with a million sessions does not
// finish migrating.
func TestMigration00003SessionBackfillUsesAnIndex(t *testing.T) {
	u := "sqlite:" + filepath.Join(t.TempDir(), "users.db")
	db, err := userstore.MigrateTo(context.Background(), u, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), `EXPLAIN QUERY PLAN
UPDATE sessions SET last_at_us = COALESCE((SELECT h.decided_at_us FROM user_changes h
    WHERE h.provider = sessions.provider AND h.session_id = sessions.session_id AND h.kind = 'decision' AND h.reason = ''
    ORDER BY h.decided_at_us DESC, h.id DESC LIMIT 1), 0)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	for _, d := range plan {
		if d == "SCAN h" || d == "SCAN user_changes" || strings.HasPrefix(d, "SCAN h ") {
			t.Fatalf("the 00003 session backfill scans user_changes for every session row: plan %q", plan)
		}
	}
}

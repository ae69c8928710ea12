package userstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/idvflow/idvflow/record"
)

// relog is migration 4: the changes logged before the store held the
// session's memory (migration 3) are read again from their keys. Each gets
// the order time its key names (a provider time, or a session end's), so a
// repeat is ordered as it was first; each timed provider decision raises
// its session's greatest decision; and a verdict that was logged "stale"
// under the old rule (a later session's outcome held the record then) is
// folded into the record under the verdict rule (docs/semantics.md R2), so
// a user's verdict is the same whichever came first. An untimed change
// that was never applied has no time on record: a repeat of it is ordered
// by its new receipt.
func (s *Store) relog() *goose.Migration {
	return goose.NewGoMigration(4, &goose.GoFunc{RunTx: s.relogTx}, &goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }})
}

func (s *Store) relogTx(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT change_key, outcome, at_us FROM change_log ORDER BY change_key`)
	if err != nil {
		return fmt.Errorf("relog: read change log: %w", err)
	}
	type logged struct {
		key     string
		outcome Outcome
		at      int64
	}
	var all []logged
	for rows.Next() {
		var l logged
		if err := rows.Scan(&l.key, &l.outcome, &l.at); err != nil {
			rows.Close()
			return fmt.Errorf("relog: read change log: %w", err)
		}
		all = append(all, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("relog: read change log: %w", err)
	}
	for _, l := range all {
		c, ok := parseKey(l.key)
		if !ok {
			continue // untimed, or not a key this store wrote
		}
		if l.at == 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE change_log SET at_us = $1 WHERE change_key = $2`, micros(c.At), l.key); err != nil {
				return fmt.Errorf("relog: order time: %w", err)
			}
		}
		if c.Kind != KindDecision || c.SessionEnd {
			continue
		}
		sess, err := s.session(ctx, tx, c)
		if err != nil {
			return err
		}
		if _, err := s.raiseSession(ctx, tx, c, sess.last); err != nil {
			return err
		}
		if l.outcome != Stale || !record.Verdict(c.Status) {
			continue
		}
		// The record's user-id source stands for the change's own.
		if err := tx.QueryRowContext(ctx, `SELECT user_id_source FROM users WHERE user_id = $1`, c.UserID).Scan(&c.UserIDSource); err != nil {
			continue // no record: nothing to fold into
		}
		out, err := s.applyDecision(ctx, tx, c)
		if err != nil {
			return err
		}
		if out != Applied {
			continue
		}
		if _, err := tx.ExecContext(ctx, `
INSERT INTO user_changes (change_key, user_id, kind, status, provider, session_id, decided_at_us, reason_code, reason, applied_at_us)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9)`,
			l.key, c.UserID, c.Kind, c.Status, c.Provider, c.SessionID, micros(c.At), c.ReasonCode, micros(s.now())); err != nil {
			return fmt.Errorf("relog: history: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE change_log SET outcome = $1 WHERE change_key = $2`, string(Applied), l.key); err != nil {
			return fmt.Errorf("relog: outcome: %w", err)
		}
	}
	return nil
}

// parseKey reads a timed change key (Change.key) back: kind, provider,
// session, user, status, reason code and a provider time or a session
// end's order time. ok is false for an untimed key. The user id may hold
// "|"; the fields around it do not.
func parseKey(key string) (Change, bool) {
	p := strings.Split(key, "|")
	if len(p) < 7 {
		return Change{}, false
	}
	n := len(p)
	c := Change{Kind: p[0], Provider: p[1], SessionID: p[2], UserID: strings.Join(p[3:n-3], "|"),
		Status: p[n-3], ReasonCode: p[n-2]}
	t := p[n-1]
	if after, ok := strings.CutPrefix(t, "end@"); ok {
		c.SessionEnd, t = true, after
	}
	at, err := time.Parse(time.RFC3339Nano, t)
	if err != nil {
		return Change{}, false
	}
	c.At = at.UTC()
	if !c.SessionEnd {
		c.ProviderTime = c.At
	}
	return c, true
}

// handedBefore is migration 6: a final decision applied before onboarding
// was a workflow of its own had its steps run by its session, so it counts
// as handed over; a redelivery of it, in a run that hands changes over,
// starts no onboarding (docs/semantics.md R11).
func (s *Store) handedBefore() *goose.Migration {
	return goose.NewGoMigration(6, &goose.GoFunc{RunTx: s.handedBeforeTx}, &goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }})
}

func (s *Store) handedBeforeTx(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT change_key, at_us FROM change_log WHERE outcome = $1`, string(Applied))
	if err != nil {
		return fmt.Errorf("handed before: read change log: %w", err)
	}
	type logged struct {
		key string
		at  int64
	}
	var all []logged
	for rows.Next() {
		var l logged
		if err := rows.Scan(&l.key, &l.at); err != nil {
			rows.Close()
			return fmt.Errorf("handed before: read change log: %w", err)
		}
		all = append(all, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("handed before: read change log: %w", err)
	}
	for _, l := range all {
		p := strings.Split(l.key, "|")
		if len(p) < 7 || p[0] != KindDecision || !record.Final(p[len(p)-3]) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO handoffs (change_id, at_us) VALUES ($1, $2) ON CONFLICT (change_id) DO NOTHING`,
			changeID(l.key), l.at); err != nil {
			return fmt.Errorf("handed before: %w", err)
		}
	}
	return nil
}

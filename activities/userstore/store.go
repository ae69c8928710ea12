// Package userstore keeps the user record that verification decisions end in:
// one row per user with the current status, and an append-only history of the
// changes that were applied to it.
//
// Apply is idempotent and monotonic, because Temporal retries activities and
// providers repeat and reorder webhooks: the same change twice is applied
// once, and a decision older (by the provider's timestamp) than the one on
// record never overwrites it.
package userstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite", no cgo
)

//go:embed migrations
var migrations embed.FS

// ErrNotFound is returned by Get for a user without a record.
var ErrNotFound = errors.New("user not found")

// Kinds of change.
const (
	KindDecision  = "decision"
	KindScreening = "screening"
)

// Outcome says what Apply did.
type Outcome string

const (
	// Applied: the record changed and a history row was written.
	Applied Outcome = "applied"
	// Duplicate: this exact change (same key) was applied before.
	Duplicate Outcome = "duplicate"
	// Stale: the record already holds this decision or a newer one.
	Stale Outcome = "stale"
)

// Change is one decision or screening result to apply to a user.
type Change struct {
	// Key identifies the change for deduplication; see ChangeKey.
	Key          string
	UserID       string
	UserIDSource string
	Kind         string
	Status       string
	Provider     string
	SessionID    string
	DecidedAt    time.Time
	ReasonCode   string
	Reason       string
}

// ChangeKey is the deduplication key of a change: the same decision from the
// same session, whether it came by webhook, by poll or in a later run, has
// the same key.
func ChangeKey(kind, provider, sessionID, status string, decidedAt time.Time) string {
	return strings.Join([]string{kind, provider, sessionID, status,
		decidedAt.UTC().Format(time.RFC3339Nano)}, "|")
}

// User is the current record of one user.
type User struct {
	UserID          string
	Status          string
	Provider        string
	SessionID       string
	UserIDSource    string
	DecidedAt       time.Time
	ReasonCode      string
	Reason          string
	ScreeningStatus string
	UpdatedAt       time.Time
	History         []HistoryEntry
}

// HistoryEntry is one applied change.
type HistoryEntry struct {
	Kind       string
	Status     string
	Provider   string
	SessionID  string
	DecidedAt  time.Time
	ReasonCode string
	Reason     string
	AppliedAt  time.Time
}

// Store is the user record in SQLite or PostgreSQL.
type Store struct {
	db      *sql.DB
	dialect goose.Dialect
	now     func() time.Time
}

// Open connects to databaseURL and migrates the schema to the latest
// version. databaseURL is "postgres://…" (or "postgresql://…") or
// "sqlite:PATH" (PATH may be ":memory:").
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	driver, dsn, dialect, err := parseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if dialect == goose.DialectSQLite3 {
		// SQLite allows one writer at a time; one connection turns lock
		// contention into queueing instead of SQLITE_BUSY errors.
		db.SetMaxOpenConns(1)
	}
	s := &Store{db: db, dialect: dialect, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func parseURL(databaseURL string) (driver, dsn string, dialect goose.Dialect, err error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return "pgx", databaseURL, goose.DialectPostgres, nil
	case strings.HasPrefix(databaseURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "//")
		if path == "" {
			return "", "", "", fmt.Errorf("database url %q: sqlite needs a file path or :memory:", databaseURL)
		}
		if path == ":memory:" {
			path = "file::memory:"
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		// WAL lets readers (the admin API) run beside the writer; the busy
		// timeout covers a second process opening the same file (a URL can
		// set its own).
		dsn := path + sep + "_pragma=journal_mode(WAL)"
		if !strings.Contains(path, "busy_timeout") {
			dsn += "&_pragma=busy_timeout(10000)"
		}
		return "sqlite", dsn, goose.DialectSQLite3, nil
	}
	return "", "", "", fmt.Errorf("database url %q: want postgres://, postgresql:// or sqlite:PATH", redactURL(databaseURL))
}

// redactURL keeps the scheme of a database URL and drops credentials.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		return u[:i+3] + "…"
	}
	if i := strings.Index(u, ":"); i >= 0 {
		return u[:i+1] + "…"
	}
	return "…"
}

func (s *Store) migrate(ctx context.Context) error {
	dir := "migrations/sqlite"
	if s.dialect == goose.DialectPostgres {
		dir = "migrations/postgres"
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(s.dialect, s.db, sub)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate user store: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Apply applies c to the user's record, at most once, and never lets an older
// decision replace a newer one.
func (s *Store) Apply(ctx context.Context, c Change) (Outcome, error) {
	if c.Key == "" || c.UserID == "" || c.Kind == "" || c.Status == "" {
		return "", fmt.Errorf("apply change: key, user id, kind and status are required")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("apply change: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM user_changes WHERE change_key = $1`, c.Key).Scan(&one)
	switch {
	case err == nil:
		return Duplicate, nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("apply change: look up key: %w", err)
	}

	now := micros(s.now())
	decided := micros(c.DecidedAt)
	var res sql.Result
	switch c.Kind {
	case KindDecision:
		// The WHERE clause is the monotonic rule: only a strictly newer
		// decision that says something new replaces the record.
		res, err = tx.ExecContext(ctx, `
INSERT INTO users (user_id, status, provider, session_id, user_id_source, decided_at_us, reason_code, reason, updated_at_us)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (user_id) DO UPDATE SET
    status = excluded.status, provider = excluded.provider, session_id = excluded.session_id,
    user_id_source = excluded.user_id_source, decided_at_us = excluded.decided_at_us,
    reason_code = excluded.reason_code, reason = excluded.reason, updated_at_us = excluded.updated_at_us
WHERE excluded.decided_at_us > users.decided_at_us
  AND (excluded.status <> users.status OR excluded.session_id <> users.session_id OR excluded.provider <> users.provider)`,
			c.UserID, c.Status, c.Provider, c.SessionID, c.UserIDSource, decided, c.ReasonCode, c.Reason, now)
	case KindScreening:
		res, err = tx.ExecContext(ctx, `
UPDATE users SET screening_status = $1, screening_at_us = $2, updated_at_us = $3
WHERE user_id = $4 AND screening_at_us < $2`,
			c.Status, decided, now, c.UserID)
	default:
		return "", fmt.Errorf("apply change: unknown kind %q", c.Kind)
	}
	if err != nil {
		return "", fmt.Errorf("apply %s change: %w", c.Kind, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", fmt.Errorf("apply %s change: rows affected: %w", c.Kind, err)
	} else if n == 0 {
		return Stale, nil
	}

	_, err = tx.ExecContext(ctx, `
INSERT INTO user_changes (change_key, user_id, kind, status, provider, session_id, decided_at_us, reason_code, reason, applied_at_us)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.Key, c.UserID, c.Kind, c.Status, c.Provider, c.SessionID, decided, c.ReasonCode, c.Reason, now)
	if err != nil {
		return "", fmt.Errorf("apply change: record history: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("apply change: commit: %w", err)
	}
	return Applied, nil
}

// Get returns the user's record with its history, oldest change first.
func (s *Store) Get(ctx context.Context, userID string) (User, error) {
	u := User{UserID: userID}
	var decided, updated int64
	err := s.db.QueryRowContext(ctx, `
SELECT status, provider, session_id, user_id_source, decided_at_us, reason_code, reason, screening_status, updated_at_us
FROM users WHERE user_id = $1`, userID).Scan(
		&u.Status, &u.Provider, &u.SessionID, &u.UserIDSource, &decided, &u.ReasonCode, &u.Reason, &u.ScreeningStatus, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	u.DecidedAt, u.UpdatedAt = fromMicros(decided), fromMicros(updated)

	rows, err := s.db.QueryContext(ctx, `
SELECT kind, status, provider, session_id, decided_at_us, reason_code, reason, applied_at_us
FROM user_changes WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return User{}, fmt.Errorf("get user history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h HistoryEntry
		var d, a int64
		if err := rows.Scan(&h.Kind, &h.Status, &h.Provider, &h.SessionID, &d, &h.ReasonCode, &h.Reason, &a); err != nil {
			return User{}, fmt.Errorf("get user history: %w", err)
		}
		h.DecidedAt, h.AppliedAt = fromMicros(d), fromMicros(a)
		u.History = append(u.History, h)
	}
	if err := rows.Err(); err != nil {
		return User{}, fmt.Errorf("get user history: %w", err)
	}
	return u, nil
}

func micros(t time.Time) int64 { return t.UTC().UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

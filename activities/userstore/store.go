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
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/idvflow/idvflow/record"
)

//go:embed migrations
var migrations embed.FS

// ErrNotFound is returned by Get for a user without a record.
var ErrNotFound = errors.New("user not found")

// Kinds of change and outcomes, as record defines them.
const (
	KindDecision  = record.KindDecision
	KindScreening = record.KindScreening
)

// Outcome is record.Outcome.
type Outcome = record.Outcome

const (
	Applied   = record.Applied
	Duplicate = record.Duplicate
	Stale     = record.Stale
)

// ErrInvalid wraps a change that no retry can store (a field too long, not
// UTF-8, or with a control character): the activity fails for good.
var ErrInvalid = errors.New("invalid change")

// Change is one decision or screening result to apply to a user.
type Change struct {
	UserID       string
	UserIDSource string
	Kind         string
	Status       string
	Provider     string
	SessionID    string
	// ProviderTime is the provider's own time of the change, zero when it
	// gave none. It is part of the change's identity (see key); without it,
	// EventID (the provider's identity of the event) is.
	ProviderTime time.Time
	EventID      string
	// At is the time the change is ordered by (record.OrderTime). For a
	// session end the store raises it to when the session began (R4).
	At time.Time
	// SessionEnd marks idvflow's own ending of a session (expired, error).
	SessionEnd bool
	// SessionBegan is when the run that sends the change believes its
	// session began; the first change of a session records it for good.
	SessionBegan time.Time
	ReasonCode   string
	Reason       string
}

// check refuses what the database could only fail on forever (R9).
func (c Change) check() error {
	if c.UserID == "" || c.Kind == "" || c.Status == "" || c.Provider == "" || c.SessionID == "" {
		return fmt.Errorf("%w: user id, kind, status, provider and session id are required", ErrInvalid)
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"user id", c.UserID, record.MaxUserID},
		{"user id source", c.UserIDSource, record.MaxWord},
		{"status", c.Status, record.MaxWord},
		{"provider", c.Provider, record.MaxWord},
		{"session id", c.SessionID, record.MaxSessionID},
		{"reason code", c.ReasonCode, record.MaxWord},
		{"reason", c.Reason, record.MaxReasonText},
		{"event id", c.EventID, 512},
	} {
		if err := record.CheckString(f.name, f.value, f.max); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	return nil
}

// key identifies a change for deduplication (R7): the same decision of the
// same session for the same user, by webhook, by poll, in any run, has the
// same key. A provider decision is named by the provider's own time, or by
// its event's identity when it has none (so a repeat received later is
// still the same change); a session end by its order time.
func (c Change) key() string {
	var t string
	switch {
	case c.SessionEnd:
		t = "end@" + c.At.UTC().Format(time.RFC3339Nano)
	case !c.ProviderTime.IsZero():
		t = c.ProviderTime.UTC().Format(time.RFC3339Nano)
	default:
		t = "event:" + c.EventID
	}
	return strings.Join([]string{c.Kind, c.Provider, c.SessionID, c.UserID, c.Status, c.ReasonCode, t}, "|")
}

func (c Change) orderKey() record.Key {
	return record.Key{
		At: c.At, Rank: record.RankOf(c.Status, c.SessionEnd), Status: c.Status, Provider: c.Provider,
		SessionID: c.SessionID, ReasonCode: c.ReasonCode, Reason: c.Reason, UserIDSource: c.UserIDSource,
	}
}

// User is the current record of one user. Status and the fields beside it
// are the decision the record shows: the user's newest verdict once they
// have one, before that their newest session outcome (R2). LatestSession
// is the newest decision of any kind, whichever session made it.
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
	LatestSession   SessionOutcome
	History         []HistoryEntry
}

// SessionOutcome is one session's decision as the record shows it.
type SessionOutcome struct {
	Provider   string
	SessionID  string
	Status     string
	DecidedAt  time.Time
	ReasonCode string
	Reason     string
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
	// beforeCommit, set by tests only, holds an Apply just before it
	// commits, so another attempt of the same change overlaps it for sure.
	beforeCommit func()
}

// Open connects to databaseURL and migrates the schema to the latest
// version. databaseURL is "postgres://…" (or "postgresql://…") or
// "sqlite:PATH" (PATH may be ":memory:").
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	s, err := Connect(databaseURL)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// Connect is Open without migrating: for a process that only writes what
// the workers' schema already has (the receiver's quarantine), so that
// workers alone change the schema and never race another process doing
// it. It does not wait for the database: the first query does.
func Connect(databaseURL string) (*Store, error) {
	driver, dsn, dialect, err := parseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(sql.Drivers(), driver) {
		return nil, fmt.Errorf("open %s database: driver %q not linked in (import github.com/idvflow/idvflow/activities/userstore/drivers)", dialect, driver)
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
	return &Store{db: db, dialect: dialect, now: time.Now}, nil
}

func parseURL(databaseURL string) (driver, dsn string, dialect goose.Dialect, err error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return "pgx", databaseURL, goose.DialectPostgres, nil
	case strings.HasPrefix(databaseURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite:"), "//")
		if path == "" {
			return "", "", "", fmt.Errorf("database url %q: sqlite needs a file path (or :memory: for a database in memory)", databaseURL)
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

// releaseSchema is the goose version of the 1.0 schema (migrations/*/),
// the first migration of every database 1.0 writes. The development builds
// before 1.0 numbered theirs 1 to 8.
const releaseSchema = 20261207000000

// ErrPreRelease is Open's answer for a database that a development build
// of idvflow wrote before 1.0.
var ErrPreRelease = errors.New("this database was written by a development build of idvflow from before 1.0, whose schema 1.0 does not migrate: " +
	"point IDV_DATABASE_URL at a new, empty database (for go run ./cmd/dev, remove its data dir, ./.idvflow by default, or pick another with -data-dir); " +
	"nothing in it was changed")

func (s *Store) migrate(ctx context.Context) error {
	if err := s.refusePreRelease(ctx); err != nil {
		return err
	}
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

// refusePreRelease returns ErrPreRelease, with the versions it found, for
// a database whose goose table records a migration of a development build
// before 1.0: its rows were written under rules 1.0 does not migrate, and
// goose, which knows only the 1.0 schema, would otherwise take the
// database as newer and leave it as it is.
func (s *Store) refusePreRelease(ctx context.Context) error {
	tables := `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'goose_db_version'`
	if s.dialect == goose.DialectSQLite3 {
		tables = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'`
	}
	var n int
	if err := s.db.QueryRowContext(ctx, tables).Scan(&n); err != nil {
		return fmt.Errorf("migrate user store: look for goose's table: %w", err)
	}
	if n == 0 {
		return nil // a new database
	}
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT version_id FROM goose_db_version WHERE version_id > 0 AND version_id < $1 ORDER BY version_id`, releaseSchema)
	if err != nil {
		return fmt.Errorf("migrate user store: read goose's versions: %w", err)
	}
	defer rows.Close()
	var old []string
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("migrate user store: read goose's versions: %w", err)
		}
		old = append(old, fmt.Sprint(v))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migrate user store: read goose's versions: %w", err)
	}
	if len(old) > 0 {
		return fmt.Errorf("%w (its schema versions: %s)", ErrPreRelease, strings.Join(old, ", "))
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Result is what the store did with a change, and what it holds for it:
// the run that sent the change adopts these, so every run of a session, and
// every attempt, sees the change the way the store first took it.
type Result struct {
	Outcome Outcome
	// ChangeID names the change in every run and attempt: a digest of its
	// change key (which holds the user id, so it is never sent as it is).
	// Steps derive their idempotency keys from it.
	ChangeID string
	// At is the order time the store holds for the change: the time it
	// was first taken with (an untimed decision keeps its first receipt; a
	// session end the time the store ordered it at, R4).
	At time.Time
	// Session is the greatest provider decision of the change's session
	// the store has taken, in any run; zero before the first.
	Session SessionDecision
}

// SessionDecision is a session's greatest provider decision as the store
// holds it.
type SessionDecision struct {
	At         time.Time
	Rank       record.Rank
	Status     string
	ReasonCode string
}

// Apply applies c to the user's record, at most once, and never lets an older
// decision replace a newer one (docs/semantics.md R2-R7).
func (s *Store) Apply(ctx context.Context, c Change) (Result, error) {
	if err := c.check(); err != nil {
		return Result{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Result{}, fmt.Errorf("apply change: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	sess, err := s.session(ctx, tx, c)
	if err != nil {
		return Result{}, err
	}
	if c.SessionEnd {
		// R4: the store orders a session's own ending from what it holds
		// of the session, never from a time the run supplies.
		c.At = sess.began
		if sess.last.At.After(c.At) {
			c.At = sess.last.At
		}
	}
	key := c.key()
	res := Result{ChangeID: changeID(key), At: c.At.UTC()}
	// Claim the key first: a concurrent attempt of the same change waits
	// here for this transaction (PostgreSQL's unique index), then answers
	// from the log, so it can never see "stale" for a change just applied.
	claim, err := tx.ExecContext(ctx, `INSERT INTO change_log (change_key, outcome, at_us) VALUES ($1, '', $2) ON CONFLICT (change_key) DO NOTHING`,
		key, micros(c.At))
	if err != nil {
		return Result{}, fmt.Errorf("apply change: claim key: %w", err)
	}
	if n, err := claim.RowsAffected(); err != nil {
		return Result{}, fmt.Errorf("apply change: claim key: %w", err)
	} else if n == 0 {
		var first Outcome
		var at int64
		if err := tx.QueryRowContext(ctx, `SELECT outcome, at_us FROM change_log WHERE change_key = $1`, key).Scan(&first, &at); err != nil {
			return Result{}, fmt.Errorf("apply change: look up key: %w", err)
		}
		if at != 0 { // logged before order times were: keep the run's
			res.At = fromMicros(at)
		}
		res.Outcome, res.Session = first, sess.last
		if first == Applied {
			res.Outcome = Duplicate
		}
		return res, nil
	}

	switch c.Kind {
	case KindDecision:
		res.Outcome, err = s.applyDecision(ctx, tx, c)
	case KindScreening:
		res.Outcome, err = s.applyScreening(ctx, tx, c)
	default:
		return Result{}, fmt.Errorf("%w: unknown kind %q", ErrInvalid, c.Kind)
	}
	if errors.Is(err, errNoUserYet) {
		res.Outcome, res.Session = Stale, sess.last
		return res, nil // rolled back: the key stays free
	}
	if err != nil {
		return Result{}, err
	}
	if c.Kind == KindDecision && !c.SessionEnd {
		if sess.last, err = s.raiseSession(ctx, tx, c, sess.last); err != nil {
			return Result{}, err
		}
	}
	res.Session = sess.last
	if res.Outcome == Applied {
		_, err = tx.ExecContext(ctx, `
INSERT INTO user_changes (change_key, user_id, kind, status, provider, session_id, decided_at_us, reason_code, reason, applied_at_us)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			key, c.UserID, c.Kind, c.Status, c.Provider, c.SessionID, micros(c.At), c.ReasonCode, c.Reason, micros(s.now()))
		if err != nil {
			return Result{}, fmt.Errorf("apply change: record history: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE change_log SET outcome = $1 WHERE change_key = $2`, string(res.Outcome), key); err != nil {
		return Result{}, fmt.Errorf("apply change: log outcome: %w", err)
	}
	if s.beforeCommit != nil {
		s.beforeCommit()
	}
	if err := tx.Commit(); err != nil {
		return Result{}, fmt.Errorf("apply change: commit: %w", err)
	}
	return res, nil
}

// changeID is the digest of a change key that leaves the store.
func changeID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// sessionRow is what the store holds of one session: when it began (R4)
// and its greatest provider decision.
type sessionRow struct {
	began time.Time
	last  SessionDecision
}

// session records when c's session began (its first change, or one that
// knows an earlier beginning), and returns what the store holds of the
// session, locked for this transaction on PostgreSQL.
func (s *Store) session(ctx context.Context, tx *sql.Tx, c Change) (sessionRow, error) {
	began := c.SessionBegan
	if began.IsZero() {
		began = c.At
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (provider, session_id, began_at_us) VALUES ($1, $2, $3)
ON CONFLICT (provider, session_id) DO NOTHING`, c.Provider, c.SessionID, micros(began)); err != nil {
		return sessionRow{}, fmt.Errorf("apply change: record session start: %w", err)
	}
	// A run may know an earlier first receipt than the run that wrote
	// first (an operator's retry hands on what a run it ended received):
	// the session began at the earliest (R4).
	if !c.SessionBegan.IsZero() {
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET began_at_us = $3 WHERE provider = $1 AND session_id = $2 AND began_at_us > $3`,
			c.Provider, c.SessionID, micros(began)); err != nil {
			return sessionRow{}, fmt.Errorf("apply change: record session start: %w", err)
		}
	}
	var row sessionRow
	var b, at int64
	var rank int
	err := tx.QueryRowContext(ctx, `SELECT began_at_us, last_at_us, last_rank, last_status, last_reason_code
FROM sessions WHERE provider = $1 AND session_id = $2`+s.lock(), c.Provider, c.SessionID).Scan(
		&b, &at, &rank, &row.last.Status, &row.last.ReasonCode)
	if err != nil {
		return sessionRow{}, fmt.Errorf("apply change: read session: %w", err)
	}
	row.began = fromMicros(b)
	if row.last.Status != "" {
		row.last.At, row.last.Rank = fromMicros(at), record.Rank(rank)
	}
	return row, nil
}

// SessionDecision is the greatest provider decision the store holds for
// the provider's session; zero when it holds none (a session it never
// heard of, or one that gave no decision yet).
func (s *Store) SessionDecision(ctx context.Context, provider, sessionID string) (SessionDecision, error) {
	var sd SessionDecision
	var at int64
	var rank int
	err := s.db.QueryRowContext(ctx, `SELECT last_at_us, last_rank, last_status, last_reason_code FROM sessions WHERE provider = $1 AND session_id = $2`,
		provider, sessionID).Scan(&at, &rank, &sd.Status, &sd.ReasonCode)
	if errors.Is(err, sql.ErrNoRows) {
		return SessionDecision{}, nil
	}
	if err != nil {
		return SessionDecision{}, fmt.Errorf("read session %s:%s: %w", provider, sessionID, err)
	}
	if sd.Status != "" {
		sd.At, sd.Rank = fromMicros(at), record.Rank(rank)
	}
	return sd, nil
}

// raiseSession makes provider decision c its session's greatest, if it is.
func (s *Store) raiseSession(ctx context.Context, tx *sql.Tx, c Change, last SessionDecision) (SessionDecision, error) {
	k := c.orderKey()
	cur := record.Key{At: last.At, Rank: last.Rank, Status: last.Status, Provider: c.Provider, SessionID: c.SessionID,
		ReasonCode: last.ReasonCode}
	// Only status, time, rank and reason code tell a session's decisions
	// apart (its provider and session are the same).
	k.Reason, k.UserIDSource = "", ""
	if last.Status != "" && k.Compare(cur) <= 0 {
		return last, nil
	}
	next := SessionDecision{At: c.At.UTC(), Rank: k.Rank, Status: c.Status, ReasonCode: c.ReasonCode}
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_at_us = $1, last_rank = $2, last_status = $3, last_reason_code = $4
WHERE provider = $5 AND session_id = $6`, micros(next.At), int(next.Rank), next.Status, next.ReasonCode, c.Provider, c.SessionID); err != nil {
		return last, fmt.Errorf("apply change: record the session's decision: %w", err)
	}
	return next, nil
}

// lock is the row lock a read-modify-write takes: PostgreSQL locks the
// row; SQLite has one writer at a time already.
func (s *Store) lock() string {
	if s.dialect == goose.DialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// recordColumns are the users columns of the decision the record shows
// and of its latest decision (record.State), in the order state reads them.
const recordColumns = `decided_at_us, decision_rank, status, provider, session_id, reason_code, reason, user_id_source,
latest_at_us, latest_rank, latest_status, latest_provider, latest_session_id, latest_reason_code, latest_reason, latest_user_id_source`

// applyDecision folds c into the user's record (record.State.With, R2):
// the record's status shows the greatest verdict once the user has one,
// and its latest session outcome the greatest decision of any kind.
func (s *Store) applyDecision(ctx context.Context, tx *sql.Tx, c Change) (Outcome, error) {
	cur, err := s.state(ctx, tx, c.UserID)
	if errors.Is(err, sql.ErrNoRows) {
		st := record.NewState(c.orderKey())
		shown, latest := keyArgs(st.Shown()), keyArgs(st.Latest)
		// err is the outer one: the read of the row another transaction
		// created below must be what the check after this block sees.
		var res sql.Result
		res, err = tx.ExecContext(ctx, `
INSERT INTO users (user_id, updated_at_us, `+recordColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT (user_id) DO NOTHING`,
			append(append([]any{c.UserID, micros(s.now())}, shown...), latest...)...)
		if err != nil {
			return "", fmt.Errorf("apply decision: insert user: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return Applied, nil
		}
		// Another transaction created the user meanwhile: compare with it.
		cur, err = s.state(ctx, tx, c.UserID)
	}
	if err != nil {
		return "", fmt.Errorf("apply decision: read user: %w", err)
	}
	next, out := cur.With(c.orderKey())
	if next.Equal(cur) {
		return Stale, nil
	}
	shown, latest := keyArgs(next.Shown()), keyArgs(next.Latest)
	_, err = tx.ExecContext(ctx, `
UPDATE users SET decided_at_us = $1, decision_rank = $2, status = $3, provider = $4, session_id = $5, reason_code = $6,
    reason = $7, user_id_source = $8, latest_at_us = $9, latest_rank = $10, latest_status = $11, latest_provider = $12,
    latest_session_id = $13, latest_reason_code = $14, latest_reason = $15, latest_user_id_source = $16, updated_at_us = $17
WHERE user_id = $18`, append(append(shown, latest...), micros(s.now()), c.UserID)...)
	if err != nil {
		return "", fmt.Errorf("apply decision: update user: %w", err)
	}
	return out, nil
}

// keyArgs are k's columns, in recordColumns' order.
func keyArgs(k record.Key) []any {
	return []any{micros(k.At), int(k.Rank), k.Status, k.Provider, k.SessionID, k.ReasonCode, k.Reason, k.UserIDSource}
}

// state reads the user's record.State, locked for this transaction.
func (s *Store) state(ctx context.Context, tx *sql.Tx, userID string) (record.State, error) {
	var shown, latest record.Key
	var shownAt, latestAt int64
	var shownRank, latestRank int
	err := tx.QueryRowContext(ctx, `SELECT `+recordColumns+` FROM users WHERE user_id = $1`+s.lock(), userID).Scan(
		&shownAt, &shownRank, &shown.Status, &shown.Provider, &shown.SessionID, &shown.ReasonCode, &shown.Reason, &shown.UserIDSource,
		&latestAt, &latestRank, &latest.Status, &latest.Provider, &latest.SessionID, &latest.ReasonCode, &latest.Reason, &latest.UserIDSource)
	if err != nil {
		return record.State{}, err
	}
	shown.At, shown.Rank = fromMicros(shownAt), record.Rank(shownRank)
	latest.At, latest.Rank = fromMicros(latestAt), record.Rank(latestRank)
	st := record.State{Latest: latest}
	if record.Verdict(shown.Status) {
		st.Verdict = &shown
	}
	return st, nil
}

// applyScreening sets the user's screening status to c's if c is newer (by
// provider time, then status as text) than the one on record (R6). It never
// touches the decision, and a user without a record gets none from it.
func (s *Store) applyScreening(ctx context.Context, tx *sql.Tx, c Change) (Outcome, error) {
	// Statuses compare byte by byte (R6), as in Go and SQLite; PostgreSQL
	// would otherwise compare them under the database's collation.
	collate := ""
	if s.dialect == goose.DialectPostgres {
		collate = ` COLLATE "C"`
	}
	res, err := tx.ExecContext(ctx, `
UPDATE users SET screening_status = $1, screening_at_us = $2, updated_at_us = $3
WHERE user_id = $4 AND (screening_at_us < $2 OR (screening_at_us = $2 AND screening_status`+collate+` < $1`+collate+`))`,
		c.Status, micros(c.At), micros(s.now()), c.UserID)
	if err != nil {
		return "", fmt.Errorf("apply screening: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", fmt.Errorf("apply screening: rows affected: %w", err)
	} else if n == 1 {
		return Applied, nil
	}
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE user_id = $1`, c.UserID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return "", errNoUserYet
	}
	return Stale, nil
}

// errNoUserYet: a screening for a user without a record is not logged, so
// it applies once the user's first decision is in.
var errNoUserYet = errors.New("no user record yet")

// Tables are the store's tables, for RowCounts.
var Tables = []string{"users", "user_changes", "sessions", "change_log", "handoffs", "onboarding_owed", "onboarding_taken", "quarantine", "operator_actions"}

// RowCounts returns the number of rows in each of Tables: what the
// operations guide's database growth is measured with.
func (s *Store) RowCounts(ctx context.Context) (map[string]int64, error) {
	counts := map[string]int64{}
	for _, t := range Tables {
		var n int64
		// t is one of the constant names above, never input.
		if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		counts[t] = n
	}
	return counts, nil
}

// Handed reports whether the change named changeID was handed to the
// user's onboarding (docs/semantics.md R11).
func (s *Store) Handed(ctx context.Context, changeID string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM handoffs WHERE change_id = $1`, changeID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up hand-over %s: %w", changeID, err)
	}
	return n > 0, nil
}

// MarkHanded records that the change named changeID was handed over at
// at; marking it again changes nothing.
func (s *Store) MarkHanded(ctx context.Context, changeID string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO handoffs (change_id, at_us) VALUES ($1, $2) ON CONFLICT (change_id) DO NOTHING`,
		changeID, micros(at))
	if err != nil {
		return fmt.Errorf("record hand-over %s: %w", changeID, err)
	}
	return nil
}

// Owe records, before change changeID is handed to the onboarding of user
// userID, that the onboarding owes it its steps (change is the hand-over as
// the onboarding reads it; sortKey orders it as the record does), until
// FinishTake; owing a change whose steps all ran changes nothing. Written
// before the hand-over's signal, so any run of the onboarding that starts
// after the run the signal reached ended (terminated) finds it (Owed).
func (s *Store) Owe(ctx context.Context, changeID, userID string, sortKey, change []byte, at time.Time) error {
	var done int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM onboarding_taken WHERE change_id = $1 AND done_at_us > 0`, changeID).Scan(&done); err != nil {
		return fmt.Errorf("owe change %s: %w", changeID, err)
	}
	if done > 0 {
		return nil // its steps ran: a hand-over repeated after that
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO onboarding_owed (change_id, user_id, sort_key, change, at_us) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (change_id) DO NOTHING`, changeID, userID, sortKey, string(change), micros(at)); err != nil {
		return fmt.Errorf("owe change %s: %w", changeID, err)
	}
	return nil
}

// Owed returns the hand-overs the onboarding of user userID still owes
// steps (Owe, and neither finished nor taken by a run that never records
// a finish), in the record's order: at most maxN of them and, past the
// first, at most maxBytes in all. more says that some were left for a
// later read; they order after these.
func (s *Store) Owed(ctx context.Context, userID string, maxN, maxBytes int) (changes [][]byte, more bool, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT o.change FROM onboarding_owed o
LEFT JOIN onboarding_taken t ON t.change_id = o.change_id
WHERE o.user_id = $1 AND (t.change_id IS NULL OR (t.done_at_us = 0 AND t.finishes = 1))
ORDER BY o.sort_key LIMIT $2`, userID, maxN+1)
	if err != nil {
		return nil, false, fmt.Errorf("read owed changes: %w", err)
	}
	defer rows.Close()
	size := 0
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, false, fmt.Errorf("read owed changes: %w", err)
		}
		if len(changes) == maxN || (len(changes) > 0 && size+len(c) > maxBytes) {
			more = true
			break
		}
		size += len(c)
		changes = append(changes, []byte(c))
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read owed changes: %w", err)
	}
	return changes, more, nil
}

// Take records that the onboarding workflow taker (its workflow id) takes
// the change named changeID for its steps, and reports whether the steps
// are taker's to run: the change is taker's (taken first by it, in any of
// its runs: one continued as new, reset or retried keeps the workflow id)
// and not finished (FinishTake). A change handed twice, after a run ran
// its steps, is not run again; a change whose steps a run began and did
// not end is finished by whichever run of the onboarding holds it next.
// Take is the take of runs of 1.0 and 1.1; TakeToFinish that of the runs
// that read what is owed.
func (s *Store) Take(ctx context.Context, changeID, taker string, at time.Time) (bool, error) {
	return s.take(ctx, changeID, taker, at, false)
}

// TakeToFinish is Take for a run that records the change's finish once its
// steps ran (release 2): until then the change stays owed (Owed), so the
// next run of the onboarding takes it in if this one ends before. A run of
// 1.0 records no finish: a change it took is not read as owed.
func (s *Store) TakeToFinish(ctx context.Context, changeID, taker string, at time.Time) (bool, error) {
	return s.take(ctx, changeID, taker, at, true)
}

func (s *Store) take(ctx context.Context, changeID, taker string, at time.Time, finishes bool) (bool, error) {
	// One transaction: a take to finish that fails half-way must not leave
	// the change taken and no longer owed.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("take change %s: %w", changeID, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, `INSERT INTO onboarding_taken (change_id, taker, at_us, finishes) VALUES ($1, $2, $3, $4) ON CONFLICT (change_id) DO NOTHING`,
		changeID, taker, micros(at), boolInt(finishes)); err != nil {
		return false, fmt.Errorf("take change %s: %w", changeID, err)
	}
	var first string
	var done int64
	if err := tx.QueryRowContext(ctx, `SELECT taker, done_at_us FROM onboarding_taken WHERE change_id = $1`, changeID).Scan(&first, &done); err != nil {
		return false, fmt.Errorf("take change %s: %w", changeID, err)
	}
	// 1.0 named the taker by its run ("<workflow id>/<run id>").
	mine := first == taker || strings.HasPrefix(first, taker+"/")
	if mine && done == 0 && finishes {
		if _, err := tx.ExecContext(ctx, `UPDATE onboarding_taken SET finishes = 1 WHERE change_id = $1 AND finishes = 0`, changeID); err != nil {
			return false, fmt.Errorf("take change %s: %w", changeID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("take change %s: %w", changeID, err)
	}
	return mine && done == 0, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FinishTake records that every step of the change named changeID has run
// (at at); finishing it again changes nothing.
func (s *Store) FinishTake(ctx context.Context, changeID string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE onboarding_taken SET done_at_us = $1 WHERE change_id = $2 AND done_at_us = 0`,
		micros(at), changeID); err != nil {
		return fmt.Errorf("finish change %s: %w", changeID, err)
	}
	// Owed reads leave a finished change out; this only keeps the table
	// as small as what is owed.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM onboarding_owed WHERE change_id = $1`, changeID); err != nil {
		return fmt.Errorf("finish change %s: %w", changeID, err)
	}
	return nil
}

// Get returns the user's record with its history, oldest change first.
func (s *Store) Get(ctx context.Context, userID string) (User, error) {
	u := User{UserID: userID}
	var decided, updated, latest int64
	l := &u.LatestSession
	err := s.db.QueryRowContext(ctx, `
SELECT status, provider, session_id, user_id_source, decided_at_us, reason_code, reason, screening_status, updated_at_us,
    latest_provider, latest_session_id, latest_status, latest_at_us, latest_reason_code, latest_reason
FROM users WHERE user_id = $1`, userID).Scan(
		&u.Status, &u.Provider, &u.SessionID, &u.UserIDSource, &decided, &u.ReasonCode, &u.Reason, &u.ScreeningStatus, &updated,
		&l.Provider, &l.SessionID, &l.Status, &latest, &l.ReasonCode, &l.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	u.DecidedAt, u.UpdatedAt, l.DecidedAt = fromMicros(decided), fromMicros(updated), fromMicros(latest)

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

package userstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Quarantined is one authentic webhook the receiver refused after
// authentication, kept for an operator (admin API /v1/quarantine).
type Quarantined struct {
	ID          string
	Provider    string
	SessionID   string // "" when the refused body named none
	Integration string
	Reason      string
	// Headers are the request's headers an operator may see: credentials
	// and signatures are never kept (QuarantineHeaders).
	Headers http.Header
	// Body is the authentic body (decrypted, for Passbase) sealed with the
	// payload keys; nil when the receiver has no keys to seal it with (and
	// in lists, which leave bodies out: HasBody says whether one is kept).
	Body    []byte
	HasBody bool
	// FirstAt and LastAt bound the deliveries of the same body.
	FirstAt, LastAt time.Time
	Deliveries      int
	// Redrives counts operator re-drives; RedriveOutcome is the last one's.
	Redrives       int
	RedriveOutcome string
	RedrivenAt     time.Time
}

// QuarantineLimits bound what the quarantine keeps.
type QuarantineLimits struct {
	MaxItems int
	MaxAge   time.Duration
}

// QuarantineHeaders are the headers kept with a quarantined webhook: none
// of them carries a credential, a signature or the sender's address.
var QuarantineHeaders = []string{"Content-Type", "User-Agent", "X-Request-Id", "Content-Length"}

// Quarantine keeps q; the same provider and id (the same body delivered
// again) counts one more delivery. Rows past lim's age or count go, oldest
// first.
func (s *Store) Quarantine(ctx context.Context, q Quarantined, lim QuarantineLimits) error {
	headers, err := json.Marshal(keptHeaders(q.Headers))
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	at := micros(q.LastAt)
	_, err = s.db.ExecContext(ctx, `
INSERT INTO quarantine (id, provider, session_id, integration, reason, headers, body, first_at_us, last_at_us,
    deliveries, redrives, redrive_outcome, redriven_at_us)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1, 0, '', 0)
ON CONFLICT (id) DO UPDATE SET last_at_us = excluded.last_at_us, reason = excluded.reason,
    body = COALESCE(quarantine.body, excluded.body), deliveries = quarantine.deliveries + 1`,
		q.ID, q.Provider, q.SessionID, q.Integration, q.Reason, string(headers), q.Body, at)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	return s.PruneQuarantine(ctx, lim)
}

// PruneQuarantine drops what lim no longer keeps: the entries last
// delivered more than MaxAge ago, then the oldest past MaxItems. The
// receiver calls it with every entry it keeps and on a timer, so an entry
// goes when its age is up even if nothing else is refused.
func (s *Store) PruneQuarantine(ctx context.Context, lim QuarantineLimits) error {
	if lim.MaxAge > 0 {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM quarantine WHERE last_at_us < $1`, micros(time.Now().Add(-lim.MaxAge))); err != nil {
			return fmt.Errorf("quarantine: prune by age: %w", err)
		}
	}
	if lim.MaxItems > 0 {
		// Everything at or before the time of the first row past the
		// bound goes (ties with it too: the bound holds).
		if _, err := s.db.ExecContext(ctx, `
DELETE FROM quarantine WHERE last_at_us <= (
    SELECT last_at_us FROM quarantine ORDER BY last_at_us DESC LIMIT 1 OFFSET $1)`, lim.MaxItems); err != nil {
			return fmt.Errorf("quarantine: prune by count: %w", err)
		}
	}
	return nil
}

func keptHeaders(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range QuarantineHeaders {
		if v := h.Values(k); len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

// QuarantineFilter selects quarantined webhooks; zero fields select all.
type QuarantineFilter struct {
	Provider string
	Since    time.Time
	Limit    int
}

const quarantineColumns = `id, provider, session_id, integration, reason, headers, body, first_at_us, last_at_us,
    deliveries, redrives, redrive_outcome, redriven_at_us`

// QuarantineList returns the quarantined webhooks f selects, newest first,
// without their bodies.
func (s *Store) QuarantineList(ctx context.Context, f QuarantineFilter) ([]Quarantined, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+quarantineColumns+` FROM quarantine
WHERE ($1 = '' OR provider = $1) AND last_at_us >= $2 ORDER BY last_at_us DESC, id LIMIT $3`,
		f.Provider, micros(f.Since), f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	defer rows.Close()
	var out []Quarantined
	for rows.Next() {
		q, err := scanQuarantined(rows)
		if err != nil {
			return nil, fmt.Errorf("list quarantine: %w", err)
		}
		q.Body = nil
		out = append(out, q)
	}
	return out, rows.Err()
}

// QuarantineGet returns one quarantined webhook with its sealed body.
func (s *Store) QuarantineGet(ctx context.Context, id string) (Quarantined, error) {
	q, err := scanQuarantined(s.db.QueryRowContext(ctx, `SELECT `+quarantineColumns+` FROM quarantine WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Quarantined{}, ErrNotFound
	}
	if err != nil {
		return Quarantined{}, fmt.Errorf("read quarantine %s: %w", id, err)
	}
	return q, nil
}

// QuarantineRedriven records the outcome of a re-drive of id.
func (s *Store) QuarantineRedriven(ctx context.Context, id, outcome string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE quarantine SET redrives = redrives + 1, redrive_outcome = $2, redriven_at_us = $3 WHERE id = $1`,
		id, outcome, micros(at))
	if err != nil {
		return fmt.Errorf("record re-drive of %s: %w", id, err)
	}
	return nil
}

type scanner interface{ Scan(...any) error }

func scanQuarantined(r scanner) (Quarantined, error) {
	var q Quarantined
	var headers string
	var first, last, redriven int64
	if err := r.Scan(&q.ID, &q.Provider, &q.SessionID, &q.Integration, &q.Reason, &headers, &q.Body, &first, &last,
		&q.Deliveries, &q.Redrives, &q.RedriveOutcome, &redriven); err != nil {
		return Quarantined{}, err
	}
	if err := json.Unmarshal([]byte(headers), &q.Headers); err != nil {
		return Quarantined{}, fmt.Errorf("headers of %s: %w", q.ID, err)
	}
	q.FirstAt, q.LastAt = fromMicros(first), fromMicros(last)
	q.HasBody = len(q.Body) > 0
	if redriven != 0 {
		q.RedrivenAt = fromMicros(redriven)
	}
	return q, nil
}

// Action is one operator action, as the audit trail keeps it.
type Action struct {
	ID     string
	At     time.Time
	Action string // resync, retry, redrive, bulk-resync, bulk-retry, cancel
	// Target names what it acted on: "veriff:<session>", "quarantine:<id>",
	// "operation:<id>".
	Target string
	UserID string // the user it changed, when known
	// Outcome is what came of it, in a word (applied, unchanged, refused,
	// failed, started, …); Detail says more, never personal data.
	Outcome   string
	Detail    string
	Operation string // the bulk operation it belongs to, if any
}

// RecordAction appends a to the audit trail (a new id when it has none).
func (s *Store) RecordAction(ctx context.Context, a Action) error {
	if a.ID == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		a.ID = hex.EncodeToString(b[:])
	}
	if a.At.IsZero() {
		a.At = s.now()
	}
	_, err := s.db.ExecContext(ctx, `
INSERT INTO operator_actions (id, at_us, action, target, user_id, outcome, detail, operation)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
		a.ID, micros(a.At), a.Action, a.Target, a.UserID, a.Outcome, a.Detail, a.Operation)
	if err != nil {
		return fmt.Errorf("record operator action: %w", err)
	}
	return nil
}

// ActionFilter selects audit records; zero fields select all.
type ActionFilter struct {
	UserID    string
	Target    string
	Operation string
	Since     time.Time
	Limit     int
}

// Actions returns the audit records f selects, oldest first.
func (s *Store) Actions(ctx context.Context, f ActionFilter) ([]Action, error) {
	if f.Limit <= 0 || f.Limit > 5000 {
		f.Limit = 5000
	}
	rows, err := s.db.QueryContext(ctx, `
SELECT id, at_us, action, target, user_id, outcome, detail, operation FROM operator_actions
WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR target = $2) AND ($3 = '' OR operation = $3) AND at_us >= $4
ORDER BY at_us, id LIMIT $5`, f.UserID, f.Target, f.Operation, micros(f.Since), f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list operator actions: %w", err)
	}
	defer rows.Close()
	var out []Action
	for rows.Next() {
		var a Action
		var at int64
		if err := rows.Scan(&a.ID, &at, &a.Action, &a.Target, &a.UserID, &a.Outcome, &a.Detail, &a.Operation); err != nil {
			return nil, fmt.Errorf("list operator actions: %w", err)
		}
		a.At = fromMicros(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

package userstore

import (
	"context"
	"database/sql"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
)

// SetBeforeCommit holds every Apply just before it commits (tests only).
func (s *Store) SetBeforeCommit(f func()) { s.beforeCommit = f }

// MigrateTo opens databaseURL migrated up to version only, for tests of
// the later migrations on rows written before them.
func MigrateTo(ctx context.Context, databaseURL string, version int64) (*sql.DB, error) {
	driver, dsn, dialect, err := parseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, err
	}
	dir := "migrations/sqlite"
	if dialect == goose.DialectPostgres {
		dir = "migrations/postgres"
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, dialect: dialect, now: time.Now}
	p, err := goose.NewProvider(dialect, db, sub, goose.WithGoMigrations(s.relog()))
	if err != nil {
		return nil, err
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return nil, err
	}
	return db, nil
}

// Package drivers registers the database/sql drivers userstore.Open uses:
// "pgx" (PostgreSQL) and "sqlite" (pure Go, no cgo). Only the binaries'
// wiring (package worker) and tests import it, so the workflow package,
// which refers to the activities, links no database driver.
package drivers

import (
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"             // SQLite driver "sqlite"
)

#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas to
# the version the server image expects. Safe to run again: "create" fails
# harmlessly on an existing database and update-schema is idempotent.
set -eu
tool() { temporal-sql-tool --plugin postgres12 --ep postgresql -u "$POSTGRES_USER" -p 5432 "$@"; }
for db in temporal temporal_visibility; do
  tool --db "$db" create || true
  tool --db "$db" setup-schema -v 0.0 || true
done
tool --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
tool --db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned

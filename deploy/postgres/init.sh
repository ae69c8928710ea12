#!/bin/sh
# Runs once, when the PostgreSQL volume is new: the user store's own role
# and database, apart from Temporal's.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v pw="$IDVFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE idvflow LOGIN PASSWORD :'pw';
CREATE DATABASE idvflow OWNER idvflow;
SQL

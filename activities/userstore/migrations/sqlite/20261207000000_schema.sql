-- The 1.0 schema of the user store. From 1.0 on, every schema change is a
-- new goose migration beside this one, named by its UTC time as
-- `goose create NAME sql` names it; this file never changes. A database
-- written by a development build before 1.0 (goose versions 1 to 8) is
-- refused at start (userstore.Open), never migrated half-way.
--
-- Times are unix microseconds (UTC) so both dialects compare them the same
-- way.

-- +goose Up

-- docs/semantics.md R2-R4: the record holds the greatest verdict once the
-- user has one (the status columns, ordered by decided_at_us,
-- decision_rank, then the text), and the greatest decision of any kind,
-- the latest session outcome (the latest_* columns), whatever came first.
CREATE TABLE users (
    user_id               TEXT    PRIMARY KEY,
    status                TEXT    NOT NULL,
    provider              TEXT    NOT NULL,
    session_id            TEXT    NOT NULL,
    user_id_source        TEXT    NOT NULL DEFAULT '',
    decided_at_us         BIGINT  NOT NULL,
    decision_rank         INTEGER NOT NULL DEFAULT 0,
    reason_code           TEXT    NOT NULL DEFAULT '',
    reason                TEXT    NOT NULL DEFAULT '',
    screening_status      TEXT    NOT NULL DEFAULT '',
    screening_at_us       BIGINT  NOT NULL DEFAULT 0,
    updated_at_us         BIGINT  NOT NULL,
    latest_at_us          BIGINT  NOT NULL DEFAULT 0,
    latest_rank           INTEGER NOT NULL DEFAULT 0,
    latest_status         TEXT    NOT NULL DEFAULT '',
    latest_provider       TEXT    NOT NULL DEFAULT '',
    latest_session_id     TEXT    NOT NULL DEFAULT '',
    latest_reason_code    TEXT    NOT NULL DEFAULT '',
    latest_reason         TEXT    NOT NULL DEFAULT '',
    latest_user_id_source TEXT    NOT NULL DEFAULT ''
);

-- Append-only: one row per change that was applied to users, never updated.
CREATE TABLE user_changes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    change_key     TEXT    NOT NULL UNIQUE,
    user_id        TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    provider       TEXT    NOT NULL,
    session_id     TEXT    NOT NULL,
    decided_at_us  BIGINT  NOT NULL,
    reason_code    TEXT    NOT NULL DEFAULT '',
    reason         TEXT    NOT NULL DEFAULT '',
    applied_at_us  BIGINT  NOT NULL
);
CREATE INDEX user_changes_user_id ON user_changes (user_id, id);
CREATE INDEX user_changes_session ON user_changes (provider, session_id, decided_at_us);

-- R4, R7: what the store holds of each session, so every run of it orders
-- its ending the same way: when it began (written by its first change,
-- never updated) and its greatest provider decision.
CREATE TABLE sessions (
    provider          TEXT    NOT NULL,
    session_id        TEXT    NOT NULL,
    began_at_us       BIGINT  NOT NULL,
    last_at_us        BIGINT  NOT NULL DEFAULT 0,
    last_rank         INTEGER NOT NULL DEFAULT 0,
    last_status       TEXT    NOT NULL DEFAULT '',
    last_reason_code  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (provider, session_id)
);

-- R7: every change ever processed, applied or not, with what became of it
-- and the order time it was first taken with; a repeat (a retried attempt,
-- a later run) answers from here.
CREATE TABLE change_log (
    change_key  TEXT    PRIMARY KEY,
    outcome     TEXT    NOT NULL,
    at_us       BIGINT  NOT NULL DEFAULT 0
);

-- R11: each applied change handed to the user's onboarding, by the store's
-- change id. A change is handed over once: a redelivery, or a later run
-- that meets the change again, starts no steps.
CREATE TABLE handoffs (
    change_id  TEXT    PRIMARY KEY,
    at_us      BIGINT  NOT NULL
);

-- R11: each change an onboarding run took for its steps, and which run: a
-- hand-over that came twice (its first attempt's answer lost), even after
-- the first run closed, runs the steps once.
CREATE TABLE onboarding_taken (
    change_id  TEXT    PRIMARY KEY,
    taker      TEXT    NOT NULL,
    at_us      BIGINT  NOT NULL
);

-- Authentic webhooks the receiver refused after authentication (a bound of
-- R9, a time ahead, a shape the parser cannot read), kept so an operator
-- can re-drive them after a fix. One row per provider and body: the
-- provider's redeliveries of the same webhook count on it. The body is
-- sealed with the payload keys; headers keep no credentials.
CREATE TABLE quarantine (
    id              TEXT    PRIMARY KEY,
    provider        TEXT    NOT NULL,
    session_id      TEXT    NOT NULL,
    integration     TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    headers         TEXT    NOT NULL,
    body            BLOB,
    first_at_us     BIGINT  NOT NULL,
    last_at_us      BIGINT  NOT NULL,
    deliveries      INTEGER NOT NULL,
    redrives        INTEGER NOT NULL,
    redrive_outcome TEXT    NOT NULL,
    redriven_at_us  BIGINT  NOT NULL
);
CREATE INDEX quarantine_by_time ON quarantine (last_at_us);

-- Every operator action: what, on which session or user, when, the
-- outcome. Append-only.
CREATE TABLE operator_actions (
    id        TEXT    PRIMARY KEY,
    at_us     BIGINT  NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    outcome   TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    operation TEXT    NOT NULL
);
CREATE INDEX operator_actions_by_time ON operator_actions (at_us);
CREATE INDEX operator_actions_by_user ON operator_actions (user_id, at_us);

-- +goose Down
DROP TABLE operator_actions;
DROP TABLE quarantine;
DROP TABLE onboarding_taken;
DROP TABLE handoffs;
DROP TABLE change_log;
DROP TABLE sessions;
DROP TABLE user_changes;
DROP TABLE users;

-- +goose Up
-- Times are unix microseconds (UTC) so both dialects compare them the same way.
CREATE TABLE users (
    user_id          TEXT    PRIMARY KEY,
    status           TEXT    NOT NULL,
    provider         TEXT    NOT NULL,
    session_id       TEXT    NOT NULL,
    user_id_source   TEXT    NOT NULL DEFAULT '',
    decided_at_us    BIGINT  NOT NULL,
    reason_code      TEXT    NOT NULL DEFAULT '',
    reason           TEXT    NOT NULL DEFAULT '',
    screening_status TEXT    NOT NULL DEFAULT '',
    screening_at_us  BIGINT  NOT NULL DEFAULT 0,
    updated_at_us    BIGINT  NOT NULL
);

-- Append-only: one row per change that was applied to users, never updated.
CREATE TABLE user_changes (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

-- +goose Down
DROP TABLE user_changes;
DROP TABLE users;

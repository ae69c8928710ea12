-- +goose Up
-- Authentic webhooks the receiver refused after authentication (a bound
-- of R9, a time ahead, a shape the parser cannot read), kept so an
-- operator can re-drive them after a fix. One row per provider and body:
-- the provider's redeliveries of the same webhook count on it. The body
-- is sealed with the payload keys; headers keep no credentials.
CREATE TABLE quarantine (
    id              TEXT    PRIMARY KEY,
    provider        TEXT    NOT NULL,
    session_id      TEXT    NOT NULL,
    integration     TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    headers         TEXT    NOT NULL,
    body            BYTEA,
    first_at_us     BIGINT  NOT NULL,
    last_at_us      BIGINT  NOT NULL,
    deliveries      INTEGER NOT NULL,
    redrives        INTEGER NOT NULL,
    redrive_outcome TEXT    NOT NULL,
    redriven_at_us  BIGINT  NOT NULL
);
CREATE INDEX quarantine_by_time ON quarantine (last_at_us);

-- Every operator action: what, on which session or user, when, the
-- outcome (issue 20). Append-only.
CREATE TABLE operator_actions (
    id        TEXT   PRIMARY KEY,
    at_us     BIGINT NOT NULL,
    action    TEXT   NOT NULL,
    target    TEXT   NOT NULL,
    user_id   TEXT   NOT NULL,
    outcome   TEXT   NOT NULL,
    detail    TEXT   NOT NULL,
    operation TEXT   NOT NULL
);
CREATE INDEX operator_actions_by_time ON operator_actions (at_us);
CREATE INDEX operator_actions_by_user ON operator_actions (user_id, at_us);

-- +goose Down
DROP TABLE operator_actions;
DROP TABLE quarantine;

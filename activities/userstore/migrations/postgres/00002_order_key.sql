-- +goose Up
-- docs/semantics.md R2-R4: the record holds the decision with the greatest
-- order key (decided_at_us, decision_rank, then its text), whatever arrived
-- first. Existing rows get the rank their status has.
ALTER TABLE users ADD COLUMN decision_rank INTEGER NOT NULL DEFAULT 0;
UPDATE users SET decision_rank = CASE
    WHEN status IN ('approved', 'declined', 'expired', 'abandoned') THEN 2
    WHEN status = 'error' THEN 3
    ELSE 1 END;

-- R4: when each session began, written by its first change and never
-- updated, so a later run of the session orders its own ending the same way.
CREATE TABLE sessions (
    provider      TEXT   NOT NULL,
    session_id    TEXT   NOT NULL,
    began_at_us   BIGINT NOT NULL,
    PRIMARY KEY (provider, session_id)
);

-- R7: every change ever processed, applied or not, with what became of it;
-- a repeat (a retried attempt, a later run) answers from here.
CREATE TABLE change_log (
    change_key  TEXT PRIMARY KEY,
    outcome     TEXT NOT NULL
);

-- +goose Down
DROP TABLE change_log;
DROP TABLE sessions;
ALTER TABLE users DROP COLUMN decision_rank;

-- R11: each change a session hands to its user's onboarding, written
-- before the hand-over's signal and kept until every step of it has run
-- (onboarding_taken.done_at_us). A run that ends before its end
-- (terminated) drops what it held; every new run of the user's onboarding
-- reads what the store still owes the user and takes it in first, so a
-- hand-over never depends on the run it reached. change is the hand-over
-- as the onboarding reads it (onboarding.Change, JSON); sort_key orders
-- it as the record does (onboarding.Change.SortKey), so a bounded read
-- takes the oldest first.
--
-- onboarding_taken.finishes: the run that took the change records its
-- finish (runs of release 2 on). A change taken by a run of 1.0, which
-- never records a finish, is not read as owed: its steps may have run.

-- +goose Up
CREATE TABLE onboarding_owed (
    change_id  TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    sort_key   BYTEA   NOT NULL,
    change     TEXT    NOT NULL,
    at_us      BIGINT  NOT NULL
);
CREATE INDEX onboarding_owed_user ON onboarding_owed (user_id, sort_key);
ALTER TABLE onboarding_taken ADD COLUMN finishes INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE onboarding_taken DROP COLUMN finishes;
DROP TABLE onboarding_owed;

-- R11: each change a session hands to its user's onboarding, written
-- before the hand-over's signal and kept until every step of it has run
-- (onboarding_taken.done_at_us). A run that ends before its end
-- (terminated) drops what it held; every new run of the user's onboarding
-- reads what the store still owes the user and takes it in first, so a
-- hand-over never depends on the run it reached. change is the hand-over
-- as the onboarding reads it (onboarding.Change, JSON).

-- +goose Up
CREATE TABLE onboarding_owed (
    change_id  TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    change     TEXT    NOT NULL,
    at_us      BIGINT  NOT NULL
);
CREATE INDEX onboarding_owed_user ON onboarding_owed (user_id, at_us);

-- +goose Down
DROP TABLE onboarding_owed;

-- +goose Up
-- docs/semantics.md R11: each applied change handed to the user's
-- onboarding, by the store's change id. A change is handed over once: a
-- redelivery, or a later run that meets the change again, starts no steps.
CREATE TABLE handoffs (
    change_id  TEXT   PRIMARY KEY,
    at_us      BIGINT NOT NULL
);

-- Each change an onboarding run took for its steps, and which run: a
-- hand-over that came twice (its first attempt's answer lost), even after
-- the first run closed, runs the steps once.
CREATE TABLE onboarding_taken (
    change_id  TEXT   PRIMARY KEY,
    taker      TEXT   NOT NULL,
    at_us      BIGINT NOT NULL
);

-- +goose Down
DROP TABLE onboarding_taken;
DROP TABLE handoffs;

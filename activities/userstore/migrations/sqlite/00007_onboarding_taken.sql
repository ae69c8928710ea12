-- +goose Up
-- docs/semantics.md R11: each change an onboarding run took for its
-- steps, and which run: a hand-over that came twice (its first attempt's
-- answer lost), even after the first run closed, runs the steps once.
CREATE TABLE onboarding_taken (
    change_id  TEXT   PRIMARY KEY,
    taker      TEXT   NOT NULL,
    at_us      BIGINT NOT NULL
);

-- +goose Down
DROP TABLE onboarding_taken;

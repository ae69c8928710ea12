-- +goose Up
-- docs/semantics.md R11: each applied change handed to the user's
-- onboarding, by the store's change id. A change is handed over once: a
-- redelivery, or a later run that meets the change again, starts no steps.
CREATE TABLE handoffs (
    change_id  TEXT   PRIMARY KEY,
    at_us      BIGINT NOT NULL
);

-- +goose Down
DROP TABLE handoffs;

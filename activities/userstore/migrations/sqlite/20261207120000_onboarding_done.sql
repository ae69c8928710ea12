-- R11: a change an onboarding took is its onboarding's until every step
-- of it has run: any run of that onboarding (continued as new, reset,
-- retried) that holds it next runs its steps, and once done_at_us is set
-- no run starts them again. The taker is the onboarding's workflow id
-- (1.0 wrote "<workflow id>/<run id>": both name the same onboarding).

-- +goose Up
ALTER TABLE onboarding_taken ADD COLUMN done_at_us BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE onboarding_taken DROP COLUMN done_at_us;

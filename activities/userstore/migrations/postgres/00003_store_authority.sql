-- +goose Up
-- docs/semantics.md R2: a verdict (approved, declined) changes only by a
-- newer verdict. The record's status columns show the user's greatest
-- verdict once they have one; the latest_* columns hold the greatest
-- decision of any kind (the latest session outcome). Existing rows: the
-- latest is what the row shows now; a row that shows a session outcome
-- while its history holds a verdict shows that history's newest verdict.
ALTER TABLE users ADD COLUMN latest_at_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN latest_rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN latest_status TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN latest_provider TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN latest_session_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN latest_reason_code TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN latest_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN latest_user_id_source TEXT NOT NULL DEFAULT '';
UPDATE users SET latest_at_us = decided_at_us, latest_rank = decision_rank, latest_status = status,
    latest_provider = provider, latest_session_id = session_id, latest_reason_code = reason_code,
    latest_reason = reason, latest_user_id_source = user_id_source;

CREATE TABLE verdicts_before (
    user_id       TEXT   PRIMARY KEY,
    status        TEXT   NOT NULL,
    provider      TEXT   NOT NULL,
    session_id    TEXT   NOT NULL,
    decided_at_us BIGINT NOT NULL,
    reason_code   TEXT   NOT NULL
);
INSERT INTO verdicts_before (user_id, status, provider, session_id, decided_at_us, reason_code)
SELECT u.user_id, h.status, h.provider, h.session_id, h.decided_at_us, h.reason_code
FROM users u JOIN user_changes h ON h.id = (
    SELECT h2.id FROM user_changes h2
    WHERE h2.user_id = u.user_id AND h2.kind = 'decision' AND h2.status IN ('approved', 'declined')
    ORDER BY h2.decided_at_us DESC, h2.status COLLATE "C" DESC, h2.provider COLLATE "C" DESC, h2.session_id COLLATE "C" DESC,
        h2.reason_code COLLATE "C" DESC, h2.id DESC
    LIMIT 1)
WHERE u.status NOT IN ('approved', 'declined');
UPDATE users SET
    status = (SELECT v.status FROM verdicts_before v WHERE v.user_id = users.user_id),
    provider = (SELECT v.provider FROM verdicts_before v WHERE v.user_id = users.user_id),
    session_id = (SELECT v.session_id FROM verdicts_before v WHERE v.user_id = users.user_id),
    decided_at_us = (SELECT v.decided_at_us FROM verdicts_before v WHERE v.user_id = users.user_id),
    reason_code = (SELECT v.reason_code FROM verdicts_before v WHERE v.user_id = users.user_id),
    decision_rank = 2,
    reason = ''
WHERE user_id IN (SELECT user_id FROM verdicts_before);
DROP TABLE verdicts_before;

-- R4, R7: what the store holds of each session, so every run of it orders
-- its ending the same way: its greatest provider decision. Existing rows:
-- from the history's provider decisions (idvflow's endings carry a reason,
-- provider decisions none).
CREATE INDEX user_changes_session ON user_changes (provider, session_id, decided_at_us);
ALTER TABLE sessions ADD COLUMN last_at_us BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN last_rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN last_status TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_reason_code TEXT NOT NULL DEFAULT '';
UPDATE sessions SET
    last_at_us = COALESCE((SELECT h.decided_at_us FROM user_changes h
        WHERE h.provider = sessions.provider AND h.session_id = sessions.session_id AND h.kind = 'decision' AND h.reason = ''
        ORDER BY h.decided_at_us DESC, h.id DESC LIMIT 1), 0),
    last_status = COALESCE((SELECT h.status FROM user_changes h
        WHERE h.provider = sessions.provider AND h.session_id = sessions.session_id AND h.kind = 'decision' AND h.reason = ''
        ORDER BY h.decided_at_us DESC, h.id DESC LIMIT 1), ''),
    last_reason_code = COALESCE((SELECT h.reason_code FROM user_changes h
        WHERE h.provider = sessions.provider AND h.session_id = sessions.session_id AND h.kind = 'decision' AND h.reason = ''
        ORDER BY h.decided_at_us DESC, h.id DESC LIMIT 1), '');
UPDATE sessions SET last_rank = CASE
    WHEN last_status = '' THEN 0
    WHEN last_status IN ('approved', 'declined', 'expired', 'abandoned') THEN 2
    ELSE 1 END;

-- R7: the order time each change was first taken with; a repeat in any
-- run is ordered by it. Changes applied before: their history row's time;
-- the rest are read from their keys by migration 4 (Go: reorder.go).
ALTER TABLE change_log ADD COLUMN at_us BIGINT NOT NULL DEFAULT 0;
UPDATE change_log SET at_us = COALESCE((SELECT h.decided_at_us FROM user_changes h
    WHERE h.change_key = change_log.change_key), 0);

-- +goose Down
DROP INDEX user_changes_session;
ALTER TABLE change_log DROP COLUMN at_us;
ALTER TABLE sessions DROP COLUMN last_reason_code;
ALTER TABLE sessions DROP COLUMN last_status;
ALTER TABLE sessions DROP COLUMN last_rank;
ALTER TABLE sessions DROP COLUMN last_at_us;
UPDATE users SET decided_at_us = latest_at_us, decision_rank = latest_rank, status = latest_status,
    provider = latest_provider, session_id = latest_session_id, reason_code = latest_reason_code,
    reason = latest_reason, user_id_source = latest_user_id_source;
ALTER TABLE users DROP COLUMN latest_user_id_source;
ALTER TABLE users DROP COLUMN latest_reason;
ALTER TABLE users DROP COLUMN latest_reason_code;
ALTER TABLE users DROP COLUMN latest_session_id;
ALTER TABLE users DROP COLUMN latest_provider;
ALTER TABLE users DROP COLUMN latest_status;
ALTER TABLE users DROP COLUMN latest_rank;
ALTER TABLE users DROP COLUMN latest_at_us;

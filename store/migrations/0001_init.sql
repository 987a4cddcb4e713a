-- Times are Unix microseconds (UTC); 0 means unset. The same SQL runs on
-- SQLite and PostgreSQL, so it sticks to the types and syntax both accept.

CREATE TABLE requests (
    id               TEXT PRIMARY KEY,
    requester_id     TEXT NOT NULL,
    channel_id       TEXT NOT NULL DEFAULT '',
    token_id         TEXT NOT NULL,
    token_name       TEXT NOT NULL DEFAULT '',
    workspace_id     TEXT NOT NULL,
    workspace_name   TEXT NOT NULL DEFAULT '',
    role_before      TEXT NOT NULL DEFAULT '',
    role_requested   TEXT NOT NULL DEFAULT '',
    action           TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    rule             TEXT NOT NULL DEFAULT '',
    approvals_needed INTEGER NOT NULL CHECK (approvals_needed >= 1),
    approver_groups  TEXT NOT NULL DEFAULT '[]', -- JSON array of group names
    approval_channel TEXT NOT NULL DEFAULT '',
    message_ts       TEXT NOT NULL DEFAULT '',
    elevation_ms     BIGINT NOT NULL DEFAULT 0,
    state            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    decided_at       BIGINT NOT NULL DEFAULT 0,
    decided_by       TEXT NOT NULL DEFAULT '',
    result           TEXT NOT NULL DEFAULT ''
);

-- At most one pending request per identical change, whoever asked: the
-- database, not a read-then-write, keeps concurrent duplicates out.
CREATE UNIQUE INDEX requests_one_pending
    ON requests (token_id, workspace_id, action, role_requested)
    WHERE state = 'pending';
CREATE INDEX requests_state_expires ON requests (state, expires_at);
CREATE INDEX requests_requester ON requests (requester_id, created_at);

CREATE TABLE approvals (
    request_id  TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, user_id)
);

CREATE TABLE audit_log (
    seq              BIGINT PRIMARY KEY,
    at               BIGINT NOT NULL,
    actor_id         TEXT NOT NULL DEFAULT '',
    action           TEXT NOT NULL,
    token_id         TEXT NOT NULL DEFAULT '',
    token_name       TEXT NOT NULL DEFAULT '',
    workspace_id     TEXT NOT NULL DEFAULT '',
    before_value     TEXT NOT NULL DEFAULT '',
    after_value      TEXT NOT NULL DEFAULT '',
    request_id       TEXT NOT NULL DEFAULT '',
    astro_request_id TEXT NOT NULL DEFAULT '',
    slack_link       TEXT NOT NULL DEFAULT '',
    detail           TEXT NOT NULL DEFAULT '',
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);
CREATE INDEX audit_log_token ON audit_log (token_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- The chain head: appenders lock this single row, which serialises appends
-- across replicas and lets VerifyAudit notice rows deleted from the tail.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TABLE envelopes (
    id         TEXT PRIMARY KEY,
    claimed_at BIGINT NOT NULL
);
CREATE INDEX envelopes_claimed_at ON envelopes (claimed_at);

CREATE TABLE reverts (
    id            TEXT PRIMARY KEY,
    request_id    TEXT NOT NULL DEFAULT '',
    token_id      TEXT NOT NULL,
    token_name    TEXT NOT NULL DEFAULT '',
    workspace_id  TEXT NOT NULL,
    revert_to     TEXT NOT NULL DEFAULT '',
    expected_role TEXT NOT NULL DEFAULT '',
    due_at        BIGINT NOT NULL,
    requested_by  TEXT NOT NULL DEFAULT '',
    channel_id    TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL,
    claimed_by    TEXT NOT NULL DEFAULT '',
    lease_until   BIGINT NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    outcome       TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    finished_at   BIGINT NOT NULL DEFAULT 0,
    cancelled_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX reverts_due ON reverts (state, due_at);
CREATE INDEX reverts_token ON reverts (token_id, state);

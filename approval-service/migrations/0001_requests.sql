-- One row per request, from intake to decision and revocation. Portable SQL: the same file
-- runs on SQLite and PostgreSQL (through sqlx's Any driver); times are Unix milliseconds.
CREATE TABLE requests (
    id TEXT PRIMARY KEY,                -- the desk's id: 128 random bits, base64url
    client_request_id TEXT NOT NULL UNIQUE, -- the block page's requestId (becomes the token's req)
    created_ms BIGINT NOT NULL,
    principal TEXT,                     -- the directory principal, as the desktop reported it
    os_user TEXT,                       -- the OS account name, as reported
    machine TEXT NOT NULL,
    identity_source TEXT NOT NULL,      -- 'reported' (by the desktop, not verified) or 'kerberos'
    service TEXT NOT NULL,
    category TEXT NOT NULL,
    origin TEXT,
    justification TEXT NOT NULL,
    days_requested BIGINT NOT NULL,
    state TEXT NOT NULL,                -- 'pending', 'approved' or 'denied'
    decided_ms BIGINT,
    decided_by TEXT,
    reason TEXT,                        -- why it was denied
    days_granted BIGINT,
    jti TEXT UNIQUE,
    kid TEXT,
    token TEXT,
    expires_ms BIGINT,
    revoked_ms BIGINT,
    revoked_by TEXT,
    CHECK (state IN ('pending', 'approved', 'denied')),
    CHECK ((state = 'approved') = (token IS NOT NULL)),
    CHECK (revoked_ms IS NULL OR state = 'approved')
);

CREATE INDEX requests_by_state ON requests (state, created_ms);
CREATE INDEX requests_revoked ON requests (revoked_ms);

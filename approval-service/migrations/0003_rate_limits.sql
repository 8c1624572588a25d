-- The per-requester rate limit, kept in the database so that a restart does not reset it: one
-- row per requester (principal or OS account, and machine), a fixed one-hour window. Portable
-- SQL, as 0001.
CREATE TABLE rate_limits (
    requester TEXT PRIMARY KEY,         -- lowercased "who|machine"
    window_ms BIGINT NOT NULL,          -- when the current window began (Unix ms)
    n BIGINT NOT NULL                   -- requests counted in it
);
CREATE INDEX rate_limits_by_window ON rate_limits (window_ms);

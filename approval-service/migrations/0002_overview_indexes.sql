-- The compliance overview counts in the database (GROUP BY) instead of reading every row; these
-- indexes keep its queries off a full scan of the table. Portable SQL, as 0001: the same file
-- runs on SQLite and PostgreSQL (an expression index needs its own parentheses on PostgreSQL;
-- SQLite takes them too).
-- Approvals in force (expires_ms > now, not revoked), by category and service: covering.
CREATE INDEX requests_in_force ON requests (expires_ms, revoked_ms, category, service);
-- Requests per week.
CREATE INDEX requests_by_created ON requests (created_ms);
-- Decisions by state, and how many were decided, for every category or some: covering.
CREATE INDEX requests_by_state_category ON requests (state, category, decided_ms);
-- Time to decision: the median and the 90th percentile walked in order, for every category
-- and for one.
CREATE INDEX requests_by_wait ON requests ((decided_ms - created_ms)) WHERE decided_ms IS NOT NULL;
CREATE INDEX requests_by_category_wait ON requests (category, (decided_ms - created_ms))
    WHERE decided_ms IS NOT NULL;

-- Answered requests of the last minute per rate-limit key (USER_RATE_LIMIT, CHANNEL_RATE_LIMIT),
-- so replicas sharing PostgreSQL count them together. SQLite is one process: it keeps these
-- counts in memory (src/core/rate-limits.ts) and this table stays empty; it exists so both
-- backends keep one schema.
CREATE TABLE rate_limit_hits (
  id  INTEGER PRIMARY KEY,
  key TEXT    NOT NULL,
  at  INTEGER NOT NULL
);
CREATE INDEX rate_limit_hits_key ON rate_limit_hits (key, at);

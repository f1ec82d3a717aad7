-- The local playground is a third platform ('web'). SQLite cannot change a CHECK constraint in
-- place, so the conversations table is rebuilt (SQLite's "other kinds of table schema changes"
-- procedure): the runner turns foreign keys off around the step, so dropping the old table does
-- not cascade into messages, and checks every reference before the step commits.
-- Must list every column conversations has when this step runs.
CREATE TABLE conversations_new (
  id              INTEGER PRIMARY KEY,
  platform        TEXT    NOT NULL CHECK (platform IN ('discord', 'slack', 'web')),
  workspace_id    TEXT    NOT NULL,
  channel_id      TEXT    NOT NULL,
  thread_key      TEXT    NOT NULL,
  created_at      INTEGER NOT NULL,
  last_activity_at INTEGER NOT NULL,
  system_prompt   TEXT,
  instructions_rev INTEGER NOT NULL DEFAULT 0,
  backfilled      INTEGER NOT NULL DEFAULT 0,
  UNIQUE (platform, workspace_id, thread_key)
);
INSERT INTO conversations_new (id, platform, workspace_id, channel_id, thread_key, created_at, last_activity_at, system_prompt, instructions_rev, backfilled)
  SELECT id, platform, workspace_id, channel_id, thread_key, created_at, last_activity_at, system_prompt, instructions_rev, backfilled FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
CREATE INDEX conversations_activity ON conversations (platform, last_activity_at);

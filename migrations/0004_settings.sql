-- /settings: per server/workspace ('' channel) and per channel, key by key. Like instructions,
-- every change is a new row, so the table is its own audit log; the newest row of a key in a
-- scope is what applies, and a NULL value records a clear (back to the inherited value).
CREATE TABLE settings (
  id            INTEGER PRIMARY KEY,
  platform      TEXT    NOT NULL,
  workspace_id  TEXT    NOT NULL,
  channel_id    TEXT    NOT NULL DEFAULT '',
  key           TEXT    NOT NULL,
  value         TEXT,
  author_id     TEXT    NOT NULL,
  author_name   TEXT    NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE INDEX settings_scope ON settings (platform, workspace_id, channel_id, key, id);

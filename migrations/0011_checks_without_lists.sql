-- CHECK constraints without IN lists. SQLite checks `x IN ('a', 'b', 'c')` (three values or more)
-- by building a temporary b-tree of the list every time the row is written, with a page cache of
-- its own: every reply's two message inserts and its job's insert and update each built one or
-- two, and in a running bot that was most of SQLite's time per reply (the cache's fresh memory
-- is faulted in each time). Comparisons joined by OR say the same and cost nothing. Only the
-- tables written while answering are rebuilt (SQLite cannot change a CHECK in place; see 0008 for
-- the procedure and why foreign keys are off around the step). Each must list every column its
-- table has when this step runs.

CREATE TABLE messages_new (
  id                  INTEGER PRIMARY KEY,
  conversation_id     INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  platform_message_id TEXT    NOT NULL,
  author_id           TEXT    NOT NULL,
  author_name         TEXT    NOT NULL,
  role                TEXT    NOT NULL CHECK (role = 'user' OR role = 'assistant' OR role = 'system'),
  author_kind         TEXT    NOT NULL DEFAULT 'user' CHECK (author_kind = 'user' OR author_kind = 'bot' OR author_kind = 'self' OR author_kind = 'system'),
  text                TEXT    NOT NULL,
  created_at          INTEGER NOT NULL,
  edited_at           INTEGER,
  deleted_at          INTEGER,
  -- The user message an assistant turn answers.
  reply_to_message_id INTEGER REFERENCES messages (id) ON DELETE SET NULL,
  -- Further parts of a reply split over several platform messages point at the first part.
  reply_part_of       INTEGER REFERENCES messages (id) ON DELETE CASCADE,
  UNIQUE (conversation_id, platform_message_id)
);
INSERT INTO messages_new (id, conversation_id, platform_message_id, author_id, author_name, role, author_kind, text, created_at, edited_at, deleted_at, reply_to_message_id, reply_part_of)
  SELECT id, conversation_id, platform_message_id, author_id, author_name, role, author_kind, text, created_at, edited_at, deleted_at, reply_to_message_id, reply_part_of FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_reply_to ON messages (reply_to_message_id) WHERE reply_to_message_id IS NOT NULL;
CREATE INDEX messages_reply_parts ON messages (reply_part_of) WHERE reply_part_of IS NOT NULL;

CREATE TABLE reply_jobs_new (
  id               INTEGER PRIMARY KEY,
  message_id       INTEGER NOT NULL UNIQUE REFERENCES messages (id) ON DELETE CASCADE,
  conversation_id  INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  state            TEXT    NOT NULL CHECK (state = 'pending' OR state = 'running' OR state = 'done' OR state = 'failed' OR state = 'dropped'),
  attempts         INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  posted_at        INTEGER,
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  lease_turn       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO reply_jobs_new (id, message_id, conversation_id, state, attempts, created_at, updated_at, posted_at, lease_owner, lease_expires_at, lease_turn)
  SELECT id, message_id, conversation_id, state, attempts, created_at, updated_at, posted_at, lease_owner, lease_expires_at, lease_turn FROM reply_jobs;
DROP TABLE reply_jobs;
ALTER TABLE reply_jobs_new RENAME TO reply_jobs;

CREATE TABLE attachments_new (
  id                 INTEGER PRIMARY KEY,
  message_id         INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  position           INTEGER NOT NULL,
  platform_file_id   TEXT    NOT NULL,
  name               TEXT    NOT NULL,
  kind               TEXT    NOT NULL CHECK (kind = 'image' OR kind = 'document' OR kind = 'text' OR kind = 'other'),
  media_type         TEXT,
  size               INTEGER,
  width              INTEGER,
  height             INTEGER,
  url                TEXT    NOT NULL,
  url_expires_at     INTEGER,
  anthropic_file_id  TEXT,
  text_content       TEXT,
  unavailable_reason TEXT,
  page_count         INTEGER,
  UNIQUE (message_id, platform_file_id)
);
INSERT INTO attachments_new (id, message_id, position, platform_file_id, name, kind, media_type, size, width, height, url, url_expires_at, anthropic_file_id, text_content, unavailable_reason, page_count)
  SELECT id, message_id, position, platform_file_id, name, kind, media_type, size, width, height, url, url_expires_at, anthropic_file_id, text_content, unavailable_reason, page_count FROM attachments;
DROP TABLE attachments;
ALTER TABLE attachments_new RENAME TO attachments;

CREATE TABLE conversations_new (
  id               INTEGER PRIMARY KEY,
  platform         TEXT    NOT NULL CHECK (platform = 'discord' OR platform = 'slack' OR platform = 'web'),
  workspace_id     TEXT    NOT NULL,
  channel_id       TEXT    NOT NULL,
  thread_key       TEXT    NOT NULL,
  created_at       INTEGER NOT NULL,
  last_activity_at INTEGER NOT NULL,
  system_prompt    TEXT,
  instructions_rev INTEGER NOT NULL DEFAULT 0,
  backfilled       INTEGER NOT NULL DEFAULT 0,
  UNIQUE (platform, workspace_id, thread_key)
);
INSERT INTO conversations_new (id, platform, workspace_id, channel_id, thread_key, created_at, last_activity_at, system_prompt, instructions_rev, backfilled)
  SELECT id, platform, workspace_id, channel_id, thread_key, created_at, last_activity_at, system_prompt, instructions_rev, backfilled FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
CREATE INDEX conversations_activity ON conversations (platform, last_activity_at);

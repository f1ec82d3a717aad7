-- threadline schema v1. Append-only: never edit a migration that has shipped; add 0002_….

CREATE TABLE conversations (
  id              INTEGER PRIMARY KEY,
  platform        TEXT    NOT NULL CHECK (platform IN ('discord', 'slack')),
  workspace_id    TEXT    NOT NULL,
  channel_id      TEXT    NOT NULL,
  thread_key      TEXT    NOT NULL,
  created_at      INTEGER NOT NULL,
  last_activity_at INTEGER NOT NULL,
  -- The top-level system prompt the first reply was built with; kept so later requests reuse
  -- the same bytes (prompt cache) and instruction changes arrive as mid-conversation messages.
  system_prompt   TEXT,
  -- Id of the newest instructions row the conversation's prompt reflects (0 = none).
  instructions_rev INTEGER NOT NULL DEFAULT 0,
  -- 1 once the history was read from the platform (or the thread began in front of the bot).
  backfilled      INTEGER NOT NULL DEFAULT 0,
  UNIQUE (platform, workspace_id, thread_key)
);
CREATE INDEX conversations_activity ON conversations (platform, last_activity_at);

CREATE TABLE messages (
  id                  INTEGER PRIMARY KEY,
  conversation_id     INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  platform_message_id TEXT    NOT NULL,
  author_id           TEXT    NOT NULL,
  author_name         TEXT    NOT NULL,
  role                TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
  author_kind         TEXT    NOT NULL DEFAULT 'user' CHECK (author_kind IN ('user', 'bot', 'self', 'system')),
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
CREATE INDEX messages_conversation_order ON messages (conversation_id, created_at, id);

CREATE TABLE attachments (
  id              INTEGER PRIMARY KEY,
  message_id      INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  position        INTEGER NOT NULL,
  platform_file_id TEXT   NOT NULL,
  name            TEXT    NOT NULL,
  kind            TEXT    NOT NULL CHECK (kind IN ('image', 'text', 'other')),
  media_type      TEXT,
  size            INTEGER,
  width           INTEGER,
  height          INTEGER,
  url             TEXT    NOT NULL,
  url_expires_at  INTEGER,
  -- Anthropic Files API id once uploaded, so later turns send identical blocks.
  anthropic_file_id TEXT,
  UNIQUE (message_id, platform_file_id)
);

CREATE TABLE instructions (
  id            INTEGER PRIMARY KEY,
  platform      TEXT    NOT NULL,
  workspace_id  TEXT    NOT NULL,
  -- '' for the workspace/server scope.
  channel_id    TEXT    NOT NULL DEFAULT '',
  -- NULL records a clear.
  text          TEXT,
  author_id     TEXT    NOT NULL,
  author_name   TEXT    NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE INDEX instructions_scope ON instructions (platform, workspace_id, channel_id, id);

CREATE TABLE processed_events (
  key         TEXT    PRIMARY KEY,
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX processed_events_age ON processed_events (created_at);

-- A message that needs an answer, stored in the same transaction as the message itself.
CREATE TABLE reply_jobs (
  id              INTEGER PRIMARY KEY,
  message_id      INTEGER NOT NULL UNIQUE REFERENCES messages (id) ON DELETE CASCADE,
  conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  state           TEXT    NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'dropped')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  posted_at       INTEGER
);
CREATE INDEX reply_jobs_open ON reply_jobs (state, created_at);

CREATE TABLE usage (
  id                    INTEGER PRIMARY KEY,
  conversation_id       INTEGER REFERENCES conversations (id) ON DELETE SET NULL,
  platform              TEXT    NOT NULL,
  workspace_id          TEXT    NOT NULL,
  channel_id            TEXT    NOT NULL,
  user_id               TEXT    NOT NULL,
  model                 TEXT    NOT NULL,
  request_id            TEXT,
  input_tokens          INTEGER NOT NULL,
  output_tokens         INTEGER NOT NULL,
  cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
  cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
  stop_reason           TEXT,
  created_at            INTEGER NOT NULL
);
CREATE INDEX usage_scope_time ON usage (platform, workspace_id, created_at);

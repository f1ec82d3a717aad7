-- Buttons on answers and Slack's assistant panel (issue 18).

-- Each person's latest 👍/👎 on an answer (the answer's first stored part). A vote goes with its
-- answer (/forget, retention); platform, workspace and channel are copied so /usage can count
-- votes without joining the whole thread.
CREATE TABLE answer_feedback (
  answer_message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  user_id           TEXT    NOT NULL,
  vote              TEXT    NOT NULL CHECK (vote IN ('up', 'down')),
  platform          TEXT    NOT NULL,
  workspace_id      TEXT    NOT NULL,
  channel_id        TEXT    NOT NULL,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (answer_message_id, user_id)
) WITHOUT ROWID;
CREATE INDEX answer_feedback_scope ON answer_feedback (platform, workspace_id, updated_at);

-- Slack assistant-panel threads: the channel the user is looking at (told to the model) and
-- whether the thread already has its title. Known before the thread has a conversation row.
CREATE TABLE assistant_threads (
  platform           TEXT    NOT NULL,
  workspace_id       TEXT    NOT NULL,
  thread_key         TEXT    NOT NULL,
  context_channel_id TEXT,
  -- How the model is told about it (`#name`), resolved when the context arrived.
  context_label      TEXT,
  titled             INTEGER NOT NULL DEFAULT 0,
  updated_at         INTEGER NOT NULL,
  PRIMARY KEY (platform, workspace_id, thread_key)
) WITHOUT ROWID;

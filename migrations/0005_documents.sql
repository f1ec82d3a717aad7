-- PDFs become their own kind of attachment (sent as document blocks), and a checked PDF keeps
-- its page count: the request's page limit (100 or 600) is weighed without fetching it again.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt.
CREATE TABLE attachments_new (
  id              INTEGER PRIMARY KEY,
  message_id      INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  position        INTEGER NOT NULL,
  platform_file_id TEXT   NOT NULL,
  name            TEXT    NOT NULL,
  kind            TEXT    NOT NULL CHECK (kind IN ('image', 'document', 'text', 'other')),
  media_type      TEXT,
  size            INTEGER,
  width           INTEGER,
  height          INTEGER,
  url             TEXT    NOT NULL,
  url_expires_at  INTEGER,
  anthropic_file_id TEXT,
  text_content    TEXT,
  unavailable_reason TEXT,
  page_count      INTEGER,
  UNIQUE (message_id, platform_file_id)
);
INSERT INTO attachments_new (id, message_id, position, platform_file_id, name, kind, media_type, size, width, height, url, url_expires_at, anthropic_file_id, text_content, unavailable_reason)
  SELECT id, message_id, position, platform_file_id, name,
         CASE WHEN kind = 'other' AND (media_type = 'application/pdf' OR lower(name) LIKE '%.pdf') THEN 'document' ELSE kind END,
         media_type, size, width, height, url, url_expires_at, anthropic_file_id, text_content, unavailable_reason
  FROM attachments;
DROP TABLE attachments;
ALTER TABLE attachments_new RENAME TO attachments;

-- Text files are read once and kept, so every later turn sends the same bytes (prompt cache) and
-- the platform is not asked again; attachments that cannot be shown keep the reason.
ALTER TABLE attachments ADD COLUMN text_content TEXT;
ALTER TABLE attachments ADD COLUMN unavailable_reason TEXT;

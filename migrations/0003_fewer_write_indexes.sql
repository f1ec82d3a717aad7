-- Indexes, for what the bot does most and for deletes.
--
-- Every reply writes two messages and a job, and each index on them is one more page written per
-- commit. These two served queries that now run rarely and stay fast without them: loading a
-- thread the message cache does not hold (the (conversation_id, platform_message_id) index finds
-- its rows; a few hundred are sorted in memory) and finding unfinished jobs at startup (one scan
-- of a table that retention keeps small).
DROP INDEX messages_conversation_order;
DROP INDEX reply_jobs_open;

-- Deleting a message (a user's delete, /forget, retention) must find the messages that point at
-- it (its answer, the other parts of a split reply); without these, each deleted row scanned the
-- whole table. Partial: most rows point nowhere and cost no index write.
CREATE INDEX messages_reply_to ON messages (reply_to_message_id) WHERE reply_to_message_id IS NOT NULL;
CREATE INDEX messages_reply_parts ON messages (reply_part_of) WHERE reply_part_of IS NOT NULL;

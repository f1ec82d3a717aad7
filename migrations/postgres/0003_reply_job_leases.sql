-- Reply jobs are leased (issue #19): the replica answering a job owns it (lease_owner, a random
-- id per process start) until lease_expires_at, renewing it while it answers; a job whose owner
-- stopped renewing is taken over by another replica.
ALTER TABLE reply_jobs
  ADD COLUMN lease_owner TEXT,
  ADD COLUMN lease_expires_at BIGINT,
  ADD COLUMN lease_turn INTEGER NOT NULL DEFAULT 0;

-- A new job looks at the open jobs of its conversation (may it be answered now?), and so does a
-- claim; partial, so finished jobs cost no index write.
CREATE INDEX reply_jobs_open_conversation ON reply_jobs (conversation_id, id) WHERE state IN ('pending', 'running');

-- Two replicas creating the first open job of one thread at once must not both answer: a job
-- created owned while nothing else of its conversation was open starts the thread's turn
-- (lease_turn = 1), and only one such job may be open per conversation. The second insert waits
-- for the first to commit, conflicts, and is created unowned instead (it then waits its turn).
CREATE UNIQUE INDEX reply_jobs_one_turn ON reply_jobs (conversation_id) WHERE lease_turn = 1 AND state IN ('pending', 'running');

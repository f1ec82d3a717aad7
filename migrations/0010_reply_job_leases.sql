-- Reply jobs are leased (issue #19): the replica answering a job owns it until its lease expires,
-- renewing it while it answers; a job whose owner stopped renewing is taken over by another.
-- SQLite serves one process, which owns every job it creates and takes all open ones at start,
-- so it needs neither the PostgreSQL indexes nor the turn constraint.
-- lease_turn: 1 on a job created owned while no other job of its conversation was open (it starts
-- that thread's turn); PostgreSQL keeps at most one open such job per conversation.
ALTER TABLE reply_jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE reply_jobs ADD COLUMN lease_expires_at INTEGER;
ALTER TABLE reply_jobs ADD COLUMN lease_turn INTEGER NOT NULL DEFAULT 0;

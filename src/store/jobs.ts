import type { JobState, ReplyJob } from './types.js';
import { Repo } from './repo.js';

interface JobRow {
  id: number;
  message_id: number;
  conversation_id: number;
  state: JobState;
  attempts: number;
  created_at: number;
}

const byAge = (a: ReplyJob, b: ReplyJob) => a.createdAt - b.createdAt || a.id - b.id;

const toJob = (row: JobRow): ReplyJob => ({
  id: row.id,
  messageId: row.message_id,
  conversationId: row.conversation_id,
  state: row.state,
  attempts: row.attempts,
  createdAt: row.created_at,
});

/** A replica's hold on the jobs it answers: its id, and when the hold ends unless renewed. */
export interface Lease {
  readonly owner: string;
  readonly expiresAt: number;
}

const OPEN = "state IN ('pending', 'running')";
const RETURNED = 'id, message_id, conversation_id, state, attempts, created_at';

/**
 * A job a replica may take now (`?`: now, the taker, now, the platform): open; held by nobody
 * alive (never taken, given back, or its owner stopped renewing, the taker itself included when
 * it lost track of the job); and its turn has come: every earlier open job of its conversation is
 * the taker's, held alive. So only the first job of a thread not yet the taker's is taken, and
 * two replicas that claim at once cannot split one thread between them: both aim at that same
 * first job, and the row lock makes the loser re-check it (see claimSql).
 */
const TAKEABLE = `j.${OPEN} AND (j.lease_owner IS NULL OR j.lease_expires_at < ?)
  AND NOT EXISTS (SELECT 1 FROM reply_jobs e WHERE e.conversation_id = j.conversation_id AND e.id < j.id AND e.${OPEN}
                  AND (e.lease_owner IS NULL OR e.lease_owner <> ? OR e.lease_expires_at < ?))
  AND j.conversation_id IN (SELECT id FROM conversations WHERE platform = ?)`;

/**
 * Takes the jobs TAKEABLE picks, in one statement. The outer conditions are checked again on
 * the row itself when another replica's claim held it (PostgreSQL's READ COMMITTED re-reads a
 * row it waited for), so each job is taken exactly once. A job that had an owner counts one more
 * attempt: that owner died (or gave it back) while the answer may have been under way.
 */
const claimSql = (filter: string) => `UPDATE reply_jobs
  SET lease_owner = ?, lease_expires_at = ?, updated_at = ?, attempts = attempts + CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END
  WHERE id IN (SELECT j.id FROM reply_jobs j WHERE ${TAKEABLE}${filter} ORDER BY j.id LIMIT ?)
    AND ${OPEN} AND (lease_owner IS NULL OR lease_expires_at < ?)
  RETURNING ${RETURNED}`;
const CLAIM = claimSql('');
const CLAIM_IN_CONVERSATION = claimSql(' AND j.conversation_id = ?');

/**
 * createInTurn's insert (`?`: the message (see MESSAGE_BY_ID), conversation, created, updated,
 * the lease's owner and end, conversation, owner, conversation): owned when no other replica
 * holds an open job of the conversation, and marked as the thread's turn (reply_jobs_one_turn)
 * when no job is open.
 */
const inTurn = (message: string) => `INSERT INTO reply_jobs (message_id, conversation_id, state, created_at, updated_at, lease_owner, lease_expires_at, lease_turn)
  SELECT ${message}, CAST(? AS BIGINT), 'pending', CAST(? AS BIGINT), CAST(? AS BIGINT),
         CASE WHEN turn.others THEN NULL ELSE CAST(? AS TEXT) END,
         CASE WHEN turn.others THEN NULL ELSE CAST(? AS BIGINT) END,
         CASE WHEN turn.open THEN 0 ELSE 1 END
  FROM (SELECT EXISTS (SELECT 1 FROM reply_jobs WHERE conversation_id = ? AND ${OPEN} AND (lease_owner IS NULL OR lease_owner <> ?)) AS others,
               EXISTS (SELECT 1 FROM reply_jobs WHERE conversation_id = ? AND ${OPEN}) AS open) AS turn
  WHERE true
  ON CONFLICT DO NOTHING`;
/** The message by its id (`?`), or by its conversation and platform id (`?`, `?`): one written earlier in the same transaction. */
const MESSAGE_BY_ID = 'CAST(? AS BIGINT)';
const MESSAGE_BY_PLATFORM_ID = '(SELECT id FROM messages WHERE conversation_id = CAST(? AS BIGINT) AND platform_message_id = CAST(? AS TEXT))';
const IN_TURN = inTurn(MESSAGE_BY_ID);
/** IN_TURN's parameters after the message's. */
const turnParams = (conversationId: number, at: number, lease: Lease) => [conversationId, at, at, lease.owner, lease.expiresAt, conversationId, lease.owner, conversationId];

/**
 * PostgreSQL's createInTurn, one statement: the fallback is a second insert in the same statement,
 * run only when the first inserted nothing.
 */
const inTurnOrWaiting = (message: string) => `WITH first AS (${inTurn(message)} RETURNING id, lease_owner),
       fallback AS (INSERT INTO reply_jobs (message_id, conversation_id, state, created_at, updated_at)
                    SELECT ${message}, CAST(? AS BIGINT), 'pending', CAST(? AS BIGINT), CAST(? AS BIGINT) WHERE NOT EXISTS (SELECT 1 FROM first)
                    ON CONFLICT DO NOTHING RETURNING id, CAST(NULL AS TEXT) AS lease_owner)
  SELECT id, lease_owner FROM first UNION ALL SELECT id, lease_owner FROM fallback`;
const IN_TURN_OR_WAITING = inTurnOrWaiting(MESSAGE_BY_ID);
const IN_TURN_OR_WAITING_BY_PLATFORM_ID = inTurnOrWaiting(MESSAGE_BY_PLATFORM_ID);

/** Another open job of the finished one's conversation that nobody holds alive (`?`: now). */
const WAITING = `EXISTS (SELECT 1 FROM reply_jobs w WHERE w.conversation_id = reply_jobs.conversation_id AND w.id <> reply_jobs.id AND w.${OPEN}
  AND (w.lease_owner IS NULL OR w.lease_expires_at < ?))`;

/** Answers owed: one row per message that needs a reply, so a restart knows what is still due. */
export class ReplyJobRepo extends Repo {
  /** Conversations whose finished job left another waiting (PostgreSQL): shared by `on(sql)` copies. */
  private readonly waiting = new Set<number>();

  /**
   * Returns the job id, or undefined when the message already has a job. With `lease`, the job
   * is created owned by that replica whatever else is open (SQLite: one process owns everything).
   */
  async create(messageId: number, conversationId: number, at: number, lease?: Lease): Promise<number | undefined> {
    // Two statements, not one with NULLs: without a lease none of the lease columns is named, so
    // the migration tests can still write jobs into a database from before they existed.
    return lease === undefined
      ? this.sql.insert(
          `INSERT INTO reply_jobs (message_id, conversation_id, state, created_at, updated_at)
           VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (message_id) DO NOTHING`,
          [messageId, conversationId, at, at],
        )
      : this.sql.insert(
          `INSERT INTO reply_jobs (message_id, conversation_id, state, created_at, updated_at, lease_owner, lease_expires_at)
           VALUES (?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`,
          [messageId, conversationId, at, at, lease.owner, lease.expiresAt],
        );
  }

  /**
   * Creates the job owned by `lease.owner` when it may be answered right away (every open job of
   * its conversation is that replica's), unowned otherwise: it then waits for its turn (a handoff
   * or a sweep takes it). When another replica started the same thread's turn at the same moment
   * (reply_jobs_one_turn), or on a duplicate, a second insert creates it unowned: on PostgreSQL
   * inside the same statement. Undefined when the message already has a job.
   */
  async createInTurn(messageId: number, conversationId: number, at: number, lease: Lease): Promise<{ id: number; owned: boolean } | undefined> {
    // PostgreSQL: one statement, so it can go out with the transaction's COMMIT (intake sends it last).
    if (this.sql.dialect === 'postgres') return this.insertInTurnOrWaiting(IN_TURN_OR_WAITING, [messageId], conversationId, at, lease);
    const row = await this.sql.get<{ id: number; lease_owner: string | null }>(`${IN_TURN} RETURNING id, lease_owner`, [messageId, ...turnParams(conversationId, at, lease)]);
    if (row !== undefined) return { id: row.id, owned: row.lease_owner !== null };
    const id = await this.create(messageId, conversationId, at);
    return id === undefined ? undefined : { id, owned: false };
  }

  /**
   * createInTurn for the message `platformMessageId` of the conversation, found by that id, so the
   * statement can leave with the message's own insert, before its row id is back (PostgreSQL only:
   * intake sends it ahead and withdraws it if the message is not answered after all).
   */
  createInTurnFor(conversationId: number, platformMessageId: string, at: number, lease: Lease): Promise<{ id: number; owned: boolean } | undefined> {
    if (this.sql.dialect !== 'postgres') throw new Error('createInTurnFor is for PostgreSQL');
    return this.insertInTurnOrWaiting(IN_TURN_OR_WAITING_BY_PLATFORM_ID, [conversationId, platformMessageId], conversationId, at, lease);
  }

  /** A job created in the current transaction and not wanted after all (intake's job sent ahead). */
  async withdraw(id: number): Promise<void> {
    await this.sql.run('DELETE FROM reply_jobs WHERE id = ?', [id]);
  }

  /** `message`: the parameters of the message's SQL in `sql` (MESSAGE_BY_ID or MESSAGE_BY_PLATFORM_ID). */
  private async insertInTurnOrWaiting(sql: string, message: readonly (string | number)[], conversationId: number, at: number, lease: Lease): Promise<{ id: number; owned: boolean } | undefined> {
    const row = await this.sql.get<{ id: number; lease_owner: string | null }>(sql, [...message, ...turnParams(conversationId, at, lease), ...message, conversationId, at, at]);
    return row === undefined ? undefined : { id: row.id, owned: row.lease_owner !== null };
  }

  /** Takes up to `limit` jobs of `platform` whose turn has come for `lease.owner` (see TAKEABLE), oldest first. */
  async claim(lease: Lease, platform: string, now: number, options: { conversationId?: number; limit?: number } = {}): Promise<ReplyJob[]> {
    const takeable = [now, lease.owner, now, platform];
    const rows =
      options.conversationId === undefined
        ? await this.sql.all<JobRow>(CLAIM, [lease.owner, lease.expiresAt, now, ...takeable, options.limit ?? 100, now])
        : await this.sql.all<JobRow>(CLAIM_IN_CONVERSATION, [lease.owner, lease.expiresAt, now, ...takeable, options.conversationId, options.limit ?? 100, now]);
    return rows.map(toJob).sort((a, b) => a.id - b.id);
  }

  /**
   * Every open job of `platform` not already `lease.owner`'s, each counting one more attempt: for
   * SQLite at start, where no other process can be answering any of them.
   */
  async takeAll(lease: Lease, platform: string, now: number): Promise<ReplyJob[]> {
    const rows = await this.sql.all<JobRow>(
      `UPDATE reply_jobs SET lease_owner = ?, lease_expires_at = ?, updated_at = ?, attempts = attempts + 1
       WHERE ${OPEN} AND (lease_owner IS NULL OR lease_owner <> ?) AND conversation_id IN (SELECT id FROM conversations WHERE platform = ?)
       RETURNING ${RETURNED}`,
      [lease.owner, lease.expiresAt, now, lease.owner, platform],
    );
    return rows.map(toJob).sort(byAge);
  }

  /** Extends every open job `lease.owner` holds to `lease.expiresAt`, in one statement; returns their ids. */
  async renew(lease: Lease): Promise<number[]> {
    const rows = await this.sql.all<{ id: number }>(`UPDATE reply_jobs SET lease_expires_at = ? WHERE lease_owner = ? AND ${OPEN} RETURNING id`, [lease.expiresAt, lease.owner]);
    return rows.map((row) => row.id);
  }

  /** Whether the conversation has an open job earlier than `id` (its answer comes first, wherever it is answered). */
  async earlierOpen(id: number, conversationId: number): Promise<boolean> {
    return (await this.sql.get(`SELECT 1 AS open FROM reply_jobs WHERE conversation_id = ? AND id < ? AND ${OPEN} LIMIT 1`, [conversationId, id])) !== undefined;
  }

  /** Ends `owner`'s lease on one job now, so the next claim takes it (a job its owner lost track of). */
  async expire(id: number, owner: string): Promise<void> {
    await this.sql.run(`UPDATE reply_jobs SET lease_expires_at = 0 WHERE id = ? AND lease_owner = ? AND ${OPEN}`, [id, owner]);
  }

  /**
   * Gives back the open jobs `owner` holds (a graceful shutdown cut short), so other replicas take
   * them at once: their leases end now. The owner stays named, so the taker counts an attempt and
   * removes what an answer under way may have posted, as for a replica that died.
   */
  async release(owner: string): Promise<number> {
    return this.sql.run(`UPDATE reply_jobs SET lease_expires_at = 0 WHERE lease_owner = ? AND ${OPEN}`, [owner]);
  }

  /** Who holds a job and until when (tests, diagnostics). */
  async leaseOf(id: number): Promise<{ owner: string | null; expiresAt: number | null } | undefined> {
    const row = await this.sql.get<{ lease_owner: string | null; lease_expires_at: number | null }>('SELECT lease_owner, lease_expires_at FROM reply_jobs WHERE id = ?', [id]);
    return row === undefined ? undefined : { owner: row.lease_owner, expiresAt: row.lease_expires_at };
  }

  /** Counts a restart that took the job up again. */
  async resumed(id: number, at: number): Promise<void> {
    await this.sql.run('UPDATE reply_jobs SET attempts = attempts + 1, updated_at = ? WHERE id = ?', [at, id]);
  }

  /**
   * Closes an open job (only an open one: a replica that lost its lease, paused past it, must not
   * undo the outcome its taker stored). On PostgreSQL the same statement notes whether a job of
   * the conversation waits for its turn (nobody holds it alive): see `takeWaiting`.
   */
  async finish(id: number, state: Exclude<JobState, 'pending' | 'running'>, at: number): Promise<void> {
    const close = `UPDATE reply_jobs SET state = ?, posted_at = CASE WHEN ? = 'done' THEN ? ELSE posted_at END, updated_at = ? WHERE id = ? AND ${OPEN}`;
    // SQLite: one process answers every job, so none waits for another's turn (and RETURNING would cost a temporary b-tree).
    if (this.sql.dialect === 'sqlite') {
      await this.sql.run(close, [state, state, at, at, id]);
      return;
    }
    const row = await this.sql.get<{ conversation_id: number; waiting: boolean }>(`${close} RETURNING conversation_id, ${WAITING} AS waiting`, [state, state, at, at, id, at]);
    if (row?.waiting === true) this.waiting.add(row.conversation_id);
  }

  /**
   * Whether a job finished here left another of `conversationId` waiting for its turn (then a
   * handoff claim is worth its round trip; otherwise a sweep finds any that came meanwhile).
   * Asking forgets the answer.
   */
  takeWaiting(conversationId: number): boolean {
    return this.waiting.delete(conversationId);
  }

  /**
   * Jobs a previous run left unfinished, oldest first. (Earlier versions marked a job `running`
   * when its answer began; such rows may still be waiting in an old database.)
   */
  async open(): Promise<ReplyJob[]> {
    return (await this.sql.all<JobRow>("SELECT * FROM reply_jobs WHERE state IN ('pending', 'running') ORDER BY created_at, id")).map(toJob);
  }

  /**
   * Deletes the finished job of `messageId`, if it has one, so the message may take a new job
   * (its answer is written again: a regeneration). An open job is left as it is.
   */
  async removeFinished(messageId: number): Promise<void> {
    await this.sql.run(`DELETE FROM reply_jobs WHERE message_id = ? AND NOT (${OPEN})`, [messageId]);
  }

  /** Whether the job answering this message is still open (being answered, or waiting its turn). */
  async openFor(messageId: number): Promise<boolean> {
    return (await this.sql.get(`SELECT 1 AS open FROM reply_jobs WHERE message_id = ? AND ${OPEN}`, [messageId])) !== undefined;
  }

  async forMessage(messageId: number): Promise<ReplyJob | undefined> {
    const row = await this.sql.get<JobRow>('SELECT * FROM reply_jobs WHERE message_id = ?', [messageId]);
    return row === undefined ? undefined : toJob(row);
  }
}

import type { Database } from 'better-sqlite3';
import type { JobState, ReplyJob } from './types.js';

interface JobRow {
  id: number;
  message_id: number;
  conversation_id: number;
  state: JobState;
  attempts: number;
  created_at: number;
}

const toJob = (row: JobRow): ReplyJob => ({
  id: row.id,
  messageId: row.message_id,
  conversationId: row.conversation_id,
  state: row.state,
  attempts: row.attempts,
  createdAt: row.created_at,
});

/** Answers owed: one row per message that needs a reply, so a restart knows what is still due. */
export class ReplyJobRepo {
  private readonly insertStmt;
  private readonly setStateStmt;
  private readonly resumedStmt;
  private readonly postedStmt;
  private readonly openStmt;
  private readonly byMessageStmt;

  constructor(db: Database) {
    this.insertStmt = db.prepare<[number, number, number, number], { id: number }>(
      `INSERT INTO reply_jobs (message_id, conversation_id, state, created_at, updated_at)
       VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (message_id) DO NOTHING RETURNING id`,
    );
    this.setStateStmt = db.prepare<[JobState, number, number]>('UPDATE reply_jobs SET state = ?, updated_at = ? WHERE id = ?');
    this.resumedStmt = db.prepare<[number, number]>('UPDATE reply_jobs SET attempts = attempts + 1, updated_at = ? WHERE id = ?');
    this.postedStmt = db.prepare<[number, number, number]>(
      "UPDATE reply_jobs SET state = 'done', posted_at = ?, updated_at = ? WHERE id = ?",
    );
    this.openStmt = db.prepare<[], JobRow>(
      "SELECT * FROM reply_jobs WHERE state IN ('pending', 'running') ORDER BY created_at, id",
    );
    this.byMessageStmt = db.prepare<[number], JobRow>('SELECT * FROM reply_jobs WHERE message_id = ?');
  }

  /** Returns the job id, or undefined when the message already has a job. */
  create(messageId: number, conversationId: number, at: number): number | undefined {
    return this.insertStmt.get(messageId, conversationId, at, at)?.id;
  }

  /** Counts a restart that took the job up again. */
  resumed(id: number, at: number): void {
    this.resumedStmt.run(at, id);
  }

  finish(id: number, state: Exclude<JobState, 'pending' | 'running'>, at: number): void {
    if (state === 'done') this.postedStmt.run(at, at, id);
    else this.setStateStmt.run(state, at, id);
  }

  /**
   * Jobs a previous run left unfinished, oldest first. (Earlier versions marked a job `running`
   * when its answer began; such rows may still be waiting in an old database.)
   */
  open(): ReplyJob[] {
    return this.openStmt.all().map(toJob);
  }

  forMessage(messageId: number): ReplyJob | undefined {
    const row = this.byMessageStmt.get(messageId);
    return row === undefined ? undefined : toJob(row);
  }
}

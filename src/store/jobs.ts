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

const toJob = (row: JobRow): ReplyJob => ({
  id: row.id,
  messageId: row.message_id,
  conversationId: row.conversation_id,
  state: row.state,
  attempts: row.attempts,
  createdAt: row.created_at,
});

/** Answers owed: one row per message that needs a reply, so a restart knows what is still due. */
export class ReplyJobRepo extends Repo {
  /** Returns the job id, or undefined when the message already has a job. */
  async create(messageId: number, conversationId: number, at: number): Promise<number | undefined> {
    const row = await this.sql.get<{ id: number }>(
      `INSERT INTO reply_jobs (message_id, conversation_id, state, created_at, updated_at)
       VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (message_id) DO NOTHING RETURNING id`,
      [messageId, conversationId, at, at],
    );
    return row?.id;
  }

  /** Counts a restart that took the job up again. */
  async resumed(id: number, at: number): Promise<void> {
    await this.sql.run('UPDATE reply_jobs SET attempts = attempts + 1, updated_at = ? WHERE id = ?', [at, id]);
  }

  async finish(id: number, state: Exclude<JobState, 'pending' | 'running'>, at: number): Promise<void> {
    if (state === 'done') await this.sql.run("UPDATE reply_jobs SET state = 'done', posted_at = ?, updated_at = ? WHERE id = ?", [at, at, id]);
    else await this.sql.run('UPDATE reply_jobs SET state = ?, updated_at = ? WHERE id = ?', [state, at, id]);
  }

  /**
   * Jobs a previous run left unfinished, oldest first. (Earlier versions marked a job `running`
   * when its answer began; such rows may still be waiting in an old database.)
   */
  async open(): Promise<ReplyJob[]> {
    return (await this.sql.all<JobRow>("SELECT * FROM reply_jobs WHERE state IN ('pending', 'running') ORDER BY created_at, id")).map(toJob);
  }

  async forMessage(messageId: number): Promise<ReplyJob | undefined> {
    const row = await this.sql.get<JobRow>('SELECT * FROM reply_jobs WHERE message_id = ?', [messageId]);
    return row === undefined ? undefined : toJob(row);
  }
}

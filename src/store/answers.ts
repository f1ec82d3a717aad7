/**
 * What the buttons on answers need from the database: an answer found from the question it
 * answers, each person's latest vote on it, the vote counts for /usage, and the Slack
 * assistant-panel threads (viewed channel, title set).
 */
import { Repo } from './repo.js';

export type Vote = 'up' | 'down';

export interface StoredAnswer {
  /** Row id of the answer's first part (what votes and the history point at). */
  readonly id: number;
  readonly conversationId: number;
  /** Platform ids of every part, first first. */
  readonly platformMessageIds: readonly string[];
  /** Row ids of the parts after the first, in order. */
  readonly partIds: readonly number[];
  readonly text: string;
}

export interface NewVote {
  readonly answerId: number;
  readonly userId: string;
  readonly vote: Vote;
  readonly platform: string;
  readonly workspaceId: string;
  readonly channelId: string;
  readonly at: number;
}

export interface VoteCounts {
  readonly up: number;
  readonly down: number;
}

export interface AssistantThreadRow {
  readonly contextChannelId: string | null;
  readonly contextLabel: string | null;
  readonly titled: boolean;
}

export class AnswerRepo extends Repo {
  /** The stored answer to a question (its newest, when there were several), or undefined. */
  async answerTo(questionId: number): Promise<StoredAnswer | undefined> {
    const first = await this.sql.get<{ id: number; conversation_id: number; platform_message_id: string; text: string }>(
      `SELECT id, conversation_id, platform_message_id, text FROM messages
        WHERE reply_to_message_id = ? AND role = 'assistant' AND reply_part_of IS NULL AND deleted_at IS NULL
        ORDER BY id DESC LIMIT 1`,
      [questionId],
    );
    if (first === undefined) return undefined;
    const parts = await this.sql.all<{ id: number; platform_message_id: string }>(
      'SELECT id, platform_message_id FROM messages WHERE reply_part_of = ? AND deleted_at IS NULL ORDER BY id',
      [first.id],
    );
    return {
      id: first.id,
      conversationId: first.conversation_id,
      platformMessageIds: [first.platform_message_id, ...parts.map((part) => part.platform_message_id)],
      partIds: parts.map((part) => part.id),
      text: first.text,
    };
  }

  /** Records a person's vote; a later vote replaces an earlier one. */
  async vote(vote: NewVote): Promise<void> {
    await this.sql.run(
      `INSERT INTO answer_feedback (answer_message_id, user_id, vote, platform, workspace_id, channel_id, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (answer_message_id, user_id) DO UPDATE SET vote = excluded.vote, updated_at = excluded.updated_at`,
      [vote.answerId, vote.userId, vote.vote, vote.platform, vote.workspaceId, vote.channelId, vote.at, vote.at],
    );
  }

  async voteOf(answerId: number, userId: string): Promise<Vote | undefined> {
    return (await this.sql.get<{ vote: Vote }>('SELECT vote FROM answer_feedback WHERE answer_message_id = ? AND user_id = ?', [answerId, userId]))?.vote;
  }

  async counts(platform: string, workspaceId: string, since: number): Promise<VoteCounts> {
    const rows = await this.sql.all<{ vote: Vote; n: number }>(
      'SELECT vote, COUNT(*) AS n FROM answer_feedback WHERE platform = ? AND workspace_id = ? AND updated_at >= ? GROUP BY vote',
      [platform, workspaceId, since],
    );
    return { up: rows.find((row) => row.vote === 'up')?.n ?? 0, down: rows.find((row) => row.vote === 'down')?.n ?? 0 };
  }

  async assistantThread(platform: string, workspaceId: string, threadKey: string): Promise<AssistantThreadRow | undefined> {
    const row = await this.sql.get<{ context_channel_id: string | null; context_label: string | null; titled: number }>(
      'SELECT context_channel_id, context_label, titled FROM assistant_threads WHERE platform = ? AND workspace_id = ? AND thread_key = ?',
      [platform, workspaceId, threadKey],
    );
    return row === undefined ? undefined : { contextChannelId: row.context_channel_id, contextLabel: row.context_label, titled: row.titled === 1 };
  }

  /** Records an assistant thread and the channel its user is looking at (null: none). */
  async setAssistantContext(platform: string, workspaceId: string, threadKey: string, channelId: string | null, label: string | null, at: number): Promise<void> {
    await this.sql.run(
      `INSERT INTO assistant_threads (platform, workspace_id, thread_key, context_channel_id, context_label, updated_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (platform, workspace_id, thread_key) DO UPDATE
         SET context_channel_id = excluded.context_channel_id, context_label = excluded.context_label, updated_at = excluded.updated_at`,
      [platform, workspaceId, threadKey, channelId, label, at],
    );
  }

  /** Marks a known assistant thread titled; true only for the call that did it (the first question). */
  async markTitled(platform: string, workspaceId: string, threadKey: string, at: number): Promise<boolean> {
    const changed = await this.sql.run(
      'UPDATE assistant_threads SET titled = 1, updated_at = ? WHERE platform = ? AND workspace_id = ? AND thread_key = ? AND titled = 0',
      [at, platform, workspaceId, threadKey],
    );
    return changed > 0;
  }
}

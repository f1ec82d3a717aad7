/**
 * What the buttons on answers need from the database: an answer found from the question it
 * answers, each person's latest vote on it, the vote counts for /usage, and the Slack
 * assistant-panel threads (viewed channel, title set).
 */
import type { Database } from 'better-sqlite3';

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

export class AnswerRepo {
  private readonly answerStmt;
  private readonly partsStmt;
  private readonly voteStmt;
  private readonly voteOfStmt;
  private readonly countsStmt;
  private readonly assistantGetStmt;
  private readonly assistantContextStmt;
  private readonly assistantTitledStmt;

  constructor(db: Database) {
    this.answerStmt = db.prepare<[number], { id: number; conversation_id: number; platform_message_id: string; text: string }>(
      `SELECT id, conversation_id, platform_message_id, text FROM messages
        WHERE reply_to_message_id = ? AND role = 'assistant' AND reply_part_of IS NULL AND deleted_at IS NULL
        ORDER BY id DESC LIMIT 1`,
    );
    this.partsStmt = db.prepare<[number], { id: number; platform_message_id: string }>(
      'SELECT id, platform_message_id FROM messages WHERE reply_part_of = ? AND deleted_at IS NULL ORDER BY id',
    );
    this.voteStmt = db.prepare(
      `INSERT INTO answer_feedback (answer_message_id, user_id, vote, platform, workspace_id, channel_id, created_at, updated_at)
       VALUES (@answerId, @userId, @vote, @platform, @workspaceId, @channelId, @at, @at)
       ON CONFLICT (answer_message_id, user_id) DO UPDATE SET vote = excluded.vote, updated_at = excluded.updated_at`,
    );
    this.voteOfStmt = db.prepare<[number, string], { vote: Vote }>('SELECT vote FROM answer_feedback WHERE answer_message_id = ? AND user_id = ?');
    this.countsStmt = db.prepare<[string, string, number], { vote: Vote; n: number }>(
      'SELECT vote, COUNT(*) AS n FROM answer_feedback WHERE platform = ? AND workspace_id = ? AND updated_at >= ? GROUP BY vote',
    );
    this.assistantGetStmt = db.prepare<[string, string, string], { context_channel_id: string | null; context_label: string | null; titled: number }>(
      'SELECT context_channel_id, context_label, titled FROM assistant_threads WHERE platform = ? AND workspace_id = ? AND thread_key = ?',
    );
    this.assistantContextStmt = db.prepare(
      `INSERT INTO assistant_threads (platform, workspace_id, thread_key, context_channel_id, context_label, updated_at)
       VALUES (@platform, @workspaceId, @threadKey, @channelId, @label, @at)
       ON CONFLICT (platform, workspace_id, thread_key) DO UPDATE
         SET context_channel_id = excluded.context_channel_id, context_label = excluded.context_label, updated_at = excluded.updated_at`,
    );
    this.assistantTitledStmt = db.prepare(
      `INSERT INTO assistant_threads (platform, workspace_id, thread_key, titled, updated_at)
       VALUES (@platform, @workspaceId, @threadKey, 1, @at)
       ON CONFLICT (platform, workspace_id, thread_key) DO UPDATE SET titled = 1, updated_at = excluded.updated_at
       WHERE assistant_threads.titled = 0`,
    );
  }

  /** The stored answer to a question (its newest, when there were several), or undefined. */
  answerTo(questionId: number): StoredAnswer | undefined {
    const first = this.answerStmt.get(questionId);
    if (first === undefined) return undefined;
    const parts = this.partsStmt.all(first.id);
    return {
      id: first.id,
      conversationId: first.conversation_id,
      platformMessageIds: [first.platform_message_id, ...parts.map((part) => part.platform_message_id)],
      partIds: parts.map((part) => part.id),
      text: first.text,
    };
  }

  /** Records a person's vote; a later vote replaces an earlier one. */
  vote(vote: NewVote): void {
    this.voteStmt.run(vote);
  }

  voteOf(answerId: number, userId: string): Vote | undefined {
    return this.voteOfStmt.get(answerId, userId)?.vote;
  }

  counts(platform: string, workspaceId: string, since: number): VoteCounts {
    const rows = this.countsStmt.all(platform, workspaceId, since);
    return { up: rows.find((row) => row.vote === 'up')?.n ?? 0, down: rows.find((row) => row.vote === 'down')?.n ?? 0 };
  }

  assistantThread(platform: string, workspaceId: string, threadKey: string): AssistantThreadRow | undefined {
    const row = this.assistantGetStmt.get(platform, workspaceId, threadKey);
    return row === undefined ? undefined : { contextChannelId: row.context_channel_id, contextLabel: row.context_label, titled: row.titled === 1 };
  }

  /** Records an assistant thread and the channel its user is looking at (null: none). */
  setAssistantContext(platform: string, workspaceId: string, threadKey: string, channelId: string | null, label: string | null, at: number): void {
    this.assistantContextStmt.run({ platform, workspaceId, threadKey, channelId, label, at });
  }

  /** Marks a known assistant thread titled; true only for the call that did it (the first question). */
  markTitled(platform: string, workspaceId: string, threadKey: string, at: number): boolean {
    if (this.assistantGetStmt.get(platform, workspaceId, threadKey) === undefined) return false;
    return this.assistantTitledStmt.run({ platform, workspaceId, threadKey, at }).changes > 0;
  }
}

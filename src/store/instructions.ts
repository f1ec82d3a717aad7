import type { Database } from 'better-sqlite3';
import type { Platform } from '../core/types.js';
import type { InstructionChange } from './types.js';

interface InstructionRow {
  id: number;
  channel_id: string;
  text: string | null;
  author_id: string;
  author_name: string;
  created_at: number;
}

const toChange = (row: InstructionRow): InstructionChange => ({
  id: row.id,
  channelId: row.channel_id,
  text: row.text,
  authorId: row.author_id,
  authorName: row.author_name,
  createdAt: row.created_at,
});

/** Every change is a new row (history is the table); the newest row of a scope is what applies. */
export class InstructionRepo {
  private readonly insertStmt;
  private readonly currentStmt;
  private readonly historyStmt;

  constructor(db: Database) {
    this.insertStmt = db.prepare<[string, string, string, string | null, string, string, number], { id: number }>(
      `INSERT INTO instructions (platform, workspace_id, channel_id, text, author_id, author_name, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    );
    this.currentStmt = db.prepare<[string, string, string], InstructionRow>(
      `SELECT id, channel_id, text, author_id, author_name, created_at FROM instructions
        WHERE platform = ? AND workspace_id = ? AND channel_id = ? ORDER BY id DESC LIMIT 1`,
    );
    this.historyStmt = db.prepare<[string, string, string, number], InstructionRow>(
      `SELECT id, channel_id, text, author_id, author_name, created_at FROM instructions
        WHERE platform = ? AND workspace_id = ? AND channel_id = ? ORDER BY id DESC LIMIT ?`,
    );
  }

  /** `channelId` '' is the workspace/server scope; `text` null clears. */
  record(platform: Platform, workspaceId: string, channelId: string, text: string | null, author: { id: string; name: string }, at: number): number {
    return (this.insertStmt.get(platform, workspaceId, channelId, text, author.id, author.name, at) as { id: number }).id;
  }

  current(platform: Platform, workspaceId: string, channelId: string): InstructionChange | undefined {
    const row = this.currentStmt.get(platform, workspaceId, channelId);
    return row === undefined ? undefined : toChange(row);
  }

  /** Newest first. */
  history(platform: Platform, workspaceId: string, channelId: string, limit: number): InstructionChange[] {
    return this.historyStmt.all(platform, workspaceId, channelId, limit).map(toChange);
  }
}

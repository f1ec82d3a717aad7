import type { Database } from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
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

/**
 * Every change is a new row (history is the table); the newest row of a scope is what applies.
 * Every reply reads two scopes and every change goes through `record`, so the newest row of each
 * scope is kept in memory (`false` for a scope that has none).
 */
export class InstructionRepo {
  private readonly newestByScope = new LRUCache<string, InstructionChange | false>({ max: 4096 });
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
    const { id } = this.insertStmt.get(platform, workspaceId, channelId, text, author.id, author.name, at) as { id: number };
    this.newestByScope.set(scopeKey(platform, workspaceId, channelId), { id, channelId, text, authorId: author.id, authorName: author.name, createdAt: at });
    return id;
  }

  current(platform: Platform, workspaceId: string, channelId: string): InstructionChange | undefined {
    const key = scopeKey(platform, workspaceId, channelId);
    let change = this.newestByScope.get(key);
    if (change === undefined) {
      const row = this.currentStmt.get(platform, workspaceId, channelId);
      change = row === undefined ? false : toChange(row);
      this.newestByScope.set(key, change);
    }
    return change === false ? undefined : change;
  }

  /** Forgets what is cached: after a rolled-back transaction. */
  invalidate(): void {
    this.newestByScope.clear();
  }

  /** Newest first. */
  history(platform: Platform, workspaceId: string, channelId: string, limit: number): InstructionChange[] {
    return this.historyStmt.all(platform, workspaceId, channelId, limit).map(toChange);
  }
}

const scopeKey = (platform: Platform, workspaceId: string, channelId: string) => `${platform}\u0000${workspaceId}\u0000${channelId}`;

import { LRUCache } from 'lru-cache';
import type { Platform } from '../core/types.js';
import type { InstructionChange } from './types.js';
import { epochKeys, scopeKey } from './cache-epochs.js';
import { Repo } from './repo.js';

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

const COLUMNS = 'id, channel_id, text, author_id, author_name, created_at';

/**
 * Every change is a new row (history is the table); the newest row of a scope is what applies.
 * Every reply reads two scopes and every change goes through `record`, so the newest row of each
 * scope is kept in memory (`false` for a scope that has none).
 */
export class InstructionRepo extends Repo {
  private readonly newestByScope = new LRUCache<string, InstructionChange | false>({ max: 4096 });

  /** `channelId` '' is the workspace/server scope; `text` null clears. */
  async record(platform: Platform, workspaceId: string, channelId: string, text: string | null, author: { id: string; name: string }, at: number): Promise<number> {
    const { id } = (await this.sql.get<{ id: number }>(
      `INSERT INTO instructions (platform, workspace_id, channel_id, text, author_id, author_name, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [platform, workspaceId, channelId, text, author.id, author.name, at],
    )) as { id: number };
    this.newestByScope.set(scopeKey(platform, workspaceId, channelId), { id, channelId, text, authorId: author.id, authorName: author.name, createdAt: at });
    return id;
  }

  async current(platform: Platform, workspaceId: string, channelId: string): Promise<InstructionChange | undefined> {
    const key = scopeKey(platform, workspaceId, channelId);
    let change = this.newestByScope.get(key);
    if (change === undefined) {
      const since = this.epochs.start();
      const row = await this.sql.get<InstructionRow>(
        `SELECT ${COLUMNS} FROM instructions WHERE platform = ? AND workspace_id = ? AND channel_id = ? ORDER BY id DESC LIMIT 1`,
        [platform, workspaceId, channelId],
      );
      change = row === undefined ? false : toChange(row);
      if (this.epochs.unchanged(epochKeys.instructions(key), since)) this.newestByScope.set(key, change);
    }
    return change === false ? undefined : change;
  }

  /** Forgets what is cached: after a rolled-back transaction. */
  invalidate(): void {
    this.newestByScope.clear();
  }

  /** A scope's instructions changed in the database (a committed write, by any replica). */
  dropCached(platform: Platform, workspaceId: string, channelId: string): void {
    this.newestByScope.delete(scopeKey(platform, workspaceId, channelId));
  }

  /** Newest first. */
  async history(platform: Platform, workspaceId: string, channelId: string, limit: number): Promise<InstructionChange[]> {
    const rows = await this.sql.all<InstructionRow>(
      `SELECT ${COLUMNS} FROM instructions WHERE platform = ? AND workspace_id = ? AND channel_id = ? ORDER BY id DESC LIMIT ?`,
      [platform, workspaceId, channelId, limit],
    );
    return rows.map(toChange);
  }
}


import { LRUCache } from 'lru-cache';
import type { Platform } from '../core/types.js';
import type { SettingChange } from './types.js';
import { epochKeys, scopeKey } from './cache-epochs.js';
import { Repo } from './repo.js';

interface SettingRow {
  id: number;
  channel_id: string;
  key: string;
  value: string | null;
  previous?: string | null;
  author_id: string;
  author_name: string;
  created_at: number;
}

const toChange = (row: SettingRow): SettingChange => ({
  id: row.id,
  channelId: row.channel_id,
  key: row.key,
  value: row.value,
  ...(row.previous === undefined ? {} : { previous: row.previous }),
  authorId: row.author_id,
  authorName: row.author_name,
  createdAt: row.created_at,
});

/**
 * Every change is a new row (history is the table); the newest row of a key in a scope is what
 * applies. Every reply reads two scopes (server/workspace and channel), so each scope's newest
 * row per key is kept in memory and written through by `record`: a reply costs no query.
 */
export class SettingsRepo extends Repo {
  private readonly byScope = new LRUCache<string, ReadonlyMap<string, SettingChange>>({ max: 4096 });

  /** `channelId` '' is the workspace/server scope; `value` null clears the key there. */
  async record(
    platform: Platform,
    workspaceId: string,
    channelId: string,
    key: string,
    value: string | null,
    author: { id: string; name: string },
    at: number,
  ): Promise<SettingChange> {
    const { id } = (await this.sql.get<{ id: number }>(
      `INSERT INTO settings (platform, workspace_id, channel_id, key, value, author_id, author_name, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [platform, workspaceId, channelId, key, value, author.id, author.name, at],
    )) as { id: number };
    const change: SettingChange = { id, channelId, key, value, authorId: author.id, authorName: author.name, createdAt: at };
    const scope = scopeKey(platform, workspaceId, channelId);
    const cached = this.byScope.get(scope);
    // Without a cached scope the next read loads it, this row included.
    if (cached !== undefined) this.byScope.set(scope, new Map(cached).set(key, change));
    return change;
  }

  /** The newest change of every key ever set in the scope (cleared keys have `value` null). */
  async current(platform: Platform, workspaceId: string, channelId: string): Promise<ReadonlyMap<string, SettingChange>> {
    const scope = scopeKey(platform, workspaceId, channelId);
    let changes = this.byScope.get(scope);
    if (changes === undefined) {
      const since = this.epochs.start();
      const rows = await this.sql.all<SettingRow>(
        `SELECT s.id, s.channel_id, s.key, s.value, s.author_id, s.author_name, s.created_at FROM settings s
          WHERE s.id IN (SELECT MAX(id) FROM settings WHERE platform = ? AND workspace_id = ? AND channel_id = ? GROUP BY key)
          ORDER BY s.id`,
        [platform, workspaceId, channelId],
      );
      changes = new Map(rows.map((row) => [row.key, toChange(row)]));
      if (this.epochs.unchanged(epochKeys.settings(scope), since)) this.byScope.set(scope, changes);
    }
    return changes;
  }

  /** Newest first, each with the value it replaced (`previous`). */
  async history(platform: Platform, workspaceId: string, channelId: string, limit: number): Promise<SettingChange[]> {
    const rows = await this.sql.all<SettingRow>(
      `SELECT s.id, s.channel_id, s.key, s.value, s.author_id, s.author_name, s.created_at,
              (SELECT p.value FROM settings p
                WHERE p.platform = s.platform AND p.workspace_id = s.workspace_id AND p.channel_id = s.channel_id
                  AND p.key = s.key AND p.id < s.id ORDER BY p.id DESC LIMIT 1) AS previous
         FROM settings s WHERE s.platform = ? AND s.workspace_id = ? AND s.channel_id = ? ORDER BY s.id DESC LIMIT ?`,
      [platform, workspaceId, channelId, limit],
    );
    return rows.map(toChange);
  }

  /** Forgets what is cached: after a rolled-back transaction. */
  invalidate(): void {
    this.byScope.clear();
  }

  /** A scope's settings changed in the database (a committed write, by any replica). */
  dropCached(platform: Platform, workspaceId: string, channelId: string): void {
    this.byScope.delete(scopeKey(platform, workspaceId, channelId));
  }
}


/**
 * Resource locks on PostgreSQL: session-level advisory locks held on one connection of their own
 * (not the pool's: a pooled connection changes hands, a lock must not). Keys are int4 pairs:
 * (namespace, resource id) for the resources and (namespace + 1, backend pid) to announce a live
 * replica, so one look at `pg_locks` tells who is live and what each holds. When the connection
 * drops, PostgreSQL frees its locks at once; the listeners hear it and the next survey reconnects.
 * (A pooler in transaction mode, such as PgBouncer's, cannot keep session locks: point
 * DATABASE_URL at the server or at a session-mode pool.)
 */
import pg from 'pg';
import type { LockHolders, ResourceLocks } from './locks.js';

const SURVEY = `
  SELECT classid::int8 AS ns, objid::int8 AS key, pid
  FROM pg_locks
  WHERE locktype = 'advisory' AND granted AND objsubid = 2
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND classid IN ($1::int8::oid, $2::int8::oid)`;

export class PostgresLocks implements ResourceLocks {
  private readonly resourceKey: number;
  private readonly presenceKey: number;
  private client: pg.Client | undefined;
  private pid = '';
  private readonly mine = new Set<number>();
  private readonly listeners: Array<(error: unknown) => void> = [];
  private closed = false;

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly name: string,
  ) {
    this.resourceKey = namespaceKey(name);
    this.presenceKey = (this.resourceKey + 1) & 0x7fffffff;
  }

  async survey(): Promise<LockHolders> {
    const rows = await this.query<{ ns: string; key: string; pid: number }>(SURVEY, [this.resourceKey, this.presenceKey]);
    const replicas = new Map<string, number[]>();
    for (const row of rows) if (Number(row.ns) === this.presenceKey) replicas.set(String(row.pid), []);
    replicas.set(this.pid, replicas.get(this.pid) ?? []);
    for (const row of rows) {
      if (Number(row.ns) !== this.resourceKey) continue;
      // A holder that has not announced itself yet (it is joining) still holds what it holds.
      const held = replicas.get(String(row.pid)) ?? [];
      held.push(Number(row.key));
      replicas.set(String(row.pid), held);
    }
    for (const held of replicas.values()) held.sort((a, b) => a - b);
    return { self: this.pid, replicas };
  }

  async tryAcquire(id: number): Promise<boolean> {
    if (this.mine.has(id)) return true;
    const row = (await this.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS taken', [this.resourceKey, id]))[0];
    if (row?.taken === true) this.mine.add(id);
    return row?.taken === true;
  }

  async release(id: number): Promise<void> {
    if (!this.mine.delete(id) || this.client === undefined) return;
    await this.query('SELECT pg_advisory_unlock($1, $2)', [this.resourceKey, id]);
  }

  held(): ReadonlySet<number> {
    return this.mine;
  }

  onLost(listener: (error: unknown) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    this.mine.clear();
    // Ending the session frees every lock it holds.
    await client?.end().catch(() => undefined);
  }

  private connecting: Promise<pg.Client> | undefined;

  /**
   * A statement on the lock connection. Any failure there (a timeout included: the network may
   * be gone while the socket looks open) counts as losing the connection: this replica can no
   * longer tell that it holds its locks, so it must act as if it did not.
   */
  private async query<T extends pg.QueryResultRow>(text: string, values: readonly unknown[]): Promise<T[]> {
    const client = await this.connected();
    try {
      return (await client.query<T>(text, values as unknown[])).rows;
    } catch (error) {
      this.lose(client, error);
      throw error;
    }
  }

  private lose(client: pg.Client, error: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.mine.clear();
    client.end().catch(() => undefined);
    if (!this.closed) for (const listener of this.listeners) listener(error);
  }

  private async connected(): Promise<pg.Client> {
    if (this.closed) throw new Error('the locks are closed');
    if (this.client !== undefined) return this.client;
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    // Keepalives and a query timeout: a dead network is noticed in seconds, on both ends.
    const client = new pg.Client({ ...this.connection, keepAlive: true, keepAliveInitialDelayMillis: 5_000, query_timeout: 10_000 });
    client.on('error', (error) => this.lose(client, error));
    client.on('end', () => this.lose(client, new Error('the lock connection ended')));
    try {
      await client.connect();
      // The server drops a session whose client vanished (a crashed host) within about 15 s,
      // freeing its shards for the others; the defaults would take hours.
      await client.query(`SET application_name = ${client.escapeLiteral(`threadline ${this.name} locks`)}; SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 3; SET tcp_keepalives_count = 3`);
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      await client.query('SELECT pg_advisory_lock($1, pg_backend_pid())', [this.presenceKey]);
      this.pid = String(pid);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    return client;
  }
}

/** A stable 31-bit key for a namespace name (advisory lock keys are int4 pairs). */
export function namespaceKey(name: string): number {
  let hash = 0x811c9dc5;
  for (const char of name) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash & 0x7fffffff;
}

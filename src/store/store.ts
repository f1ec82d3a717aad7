/**
 * The one door to the database, the same for both backends: SQLite (better-sqlite3, one file,
 * the default) and PostgreSQL (`DATABASE_URL`). Every method is asynchronous because
 * PostgreSQL's are; on SQLite each still runs synchronously underneath, so a reply costs one
 * microtask per call more than the driver, not a round trip.
 *
 * Why one set of repositories over a small executor rather than a query builder such as Kysely:
 * the statements are few and fixed, written once in the SQL both databases share, and SQLite
 * keeps running them as cached prepared statements at the driver's speed (`npm run bench`'s
 * per-reply overhead); what differs per backend is only the schema (`migrations/` for SQLite,
 * `migrations/postgres/`) and the driver (`sql/`).
 *
 * Transactions: `store.transaction(async (tx) => …)` runs its body on one connection; every
 * statement of the body must go through `tx` (SQLite queues everyone else behind an open
 * transaction, so a call to the outer store inside it would wait for itself). The caches are
 * shared by the store and its transactions, written through, and dropped on rollback. Replicas
 * sharing PostgreSQL hear each other's writes (replica-caches.ts); a read that must see every
 * write committed before it passes `syncCaches()` first (a no-op on SQLite).
 */
import type { Logger } from 'pino';
import { MIGRATIONS_DIR, openDatabase } from './database.js';
import { AnswerRepo } from './answers.js';
import { ConversationRepo } from './conversations.js';
import { openResourceLocks, type ResourceLocks } from './locks.js';
import { ProcessedEventRepo } from './events.js';
import { InstructionRepo } from './instructions.js';
import { ReplyJobRepo } from './jobs.js';
import { MessageRepo } from './messages.js';
import { RateLimitRepo } from './rate-limits.js';
import { ALWAYS_CURRENT, readAhead, readAheadOfBarrier, type ReadAhead } from './read-ahead.js';
import { newReplicaId, ReplicaCaches } from './replica-caches.js';
import { RetentionRepo, type PruneResult } from './retention.js';
import { SettingsRepo } from './settings.js';
import { UsageRepo } from './usage.js';
import type { SqlExecutor, TransactionOptions } from './sql/executor.js';
import { DEFAULT_SYNCHRONOUS_COMMIT, type SynchronousCommit } from './sql/postgres-pool.js';
import { openPostgres, POSTGRES_MIGRATIONS_DIR, redactedUrl } from './open-postgres.js';
import { NOTES_CHANNEL } from './sql/postgres-listener.js';
import { encode as encodeNote, fits as noteFits, type NoteListener } from './replica-notes.js';
import { SqliteExecutor } from './sql/sqlite.js';

export interface StoreLocation {
  /** `postgres://…` or `postgresql://…`: PostgreSQL. Unset: SQLite at `databasePath`. */
  readonly databaseUrl?: string | undefined;
  readonly databasePath: string;
  /** PostgreSQL's `synchronous_commit` for the bot's sessions (DATABASE_SYNCHRONOUS_COMMIT); default `off`, see sql/postgres-pool.ts. */
  readonly synchronousCommit?: SynchronousCommit | undefined;
}

interface Repos {
  readonly conversations: ConversationRepo;
  readonly messages: MessageRepo;
  readonly instructions: InstructionRepo;
  readonly events: ProcessedEventRepo;
  readonly jobs: ReplyJobRepo;
  readonly usage: UsageRepo;
  readonly retention: RetentionRepo;
  readonly settings: SettingsRepo;
  readonly answers: AnswerRepo;
  readonly rateLimits: RateLimitRepo;
}

const SYNCED: Promise<void> = Promise.resolve();

// The repositories are the store's public fields, declared once (in Repos) and set from one object.
export interface Store extends Repos {}

export class Store {
  private constructor(
    private readonly sql: SqlExecutor,
    repos: Repos,
    private readonly replicas?: ReplicaCaches,
  ) {
    Object.assign(this, repos);
  }

  /**
   * Opens and migrates the database `location` names; `logger` hears about the replica listener
   * (PostgreSQL), whose notifications name this process by `replicaId`.
   */
  static async open(location: StoreLocation, logger?: Logger, replicaId = newReplicaId()): Promise<Store> {
    if (location.databaseUrl === undefined) return Store.over(new SqliteExecutor(openDatabase(location.databasePath)));
    const replicas = new ReplicaCaches(location.databaseUrl, replicaId, logger);
    const store = Store.over(await openPostgres(location.databaseUrl, replicas.replicaId, location.synchronousCommit ?? DEFAULT_SYNCHRONOUS_COMMIT), replicas);
    await replicas.start(store);
    return store;
  }

  /** A store with empty caches over an executor (an already migrated database); `replicas` when others share it. */
  static over(sql: SqlExecutor, replicas?: ReplicaCaches): Store {
    return new Store(sql, {
      conversations: new ConversationRepo(sql),
      messages: new MessageRepo(sql),
      instructions: new InstructionRepo(sql),
      events: new ProcessedEventRepo(sql),
      jobs: new ReplyJobRepo(sql),
      usage: new UsageRepo(sql),
      retention: new RetentionRepo(sql),
      settings: new SettingsRepo(sql),
      answers: new AnswerRepo(sql),
      rateLimits: new RateLimitRepo(sql),
    }, replicas);
  }

  get backend(): 'sqlite' | 'postgres' {
    return this.sql.dialect;
  }

  /** The executor underneath: for tests and tools that look past the repositories. */
  get executor(): SqlExecutor {
    return this.sql;
  }

  /**
   * Runs `work` atomically: commit when it resolves, roll back when it throws. `work` gets the
   * transaction's store and must use it for everything it stores or reads. Nested calls
   * (`tx.transaction`) are savepoints. `options.commitWithStatements`: see TransactionOptions.
   */
  async transaction<T>(work: (tx: Store) => Promise<T>, options?: TransactionOptions): Promise<T> {
    try {
      return await this.sql.transaction((sql) => work(this.on(sql)), options);
    } catch (error) {
      // Rows cached inside the rolled-back transaction never existed.
      this.invalidateCaches();
      throw error;
    }
  }

  /**
   * `transaction`, handed back as soon as COMMIT is sent (PostgreSQL: TransactionOptions.commitLater)
   * with `committed`, which settles with the COMMIT: rejected (and the caches dropped) when nothing
   * was committed. This process's later reads outside a transaction see the writes already;
   * anything that tells the outside world about them waits for `committed`. SQLite (or a body
   * that committed with its statements): committed already.
   */
  async transactionCommittedLater<T>(work: (tx: Store) => Promise<T>, options?: Omit<TransactionOptions, 'commitLater'>): Promise<{ result: T; committed: Promise<void> }> {
    let committed: Promise<void> | undefined;
    const result = await this.transaction(work, {
      ...options,
      commitLater: (committing) => {
        committed = committing.catch((error: unknown) => {
          this.invalidateCaches();
          throw error;
        });
        committed.catch(() => undefined);
      },
    });
    return { result, committed: committed ?? Promise.resolve() };
  }

  /**
   * Inside a transaction's body: `work` sends the transaction's last statements, each started
   * before any is awaited, and the body returns right after. On PostgreSQL COMMIT leaves with
   * them, a round trip less (see SqlExecutor.commitWith); outside a transaction, or on SQLite,
   * `work` just runs.
   */
  commitWith<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    return this.sql.commitWith((sql) => work(this.on(sql)));
  }

  /**
   * Erases a conversation's messages but keeps the conversation, marked as already read, so the
   * next mention does not read the forgotten history back from the platform.
   */
  async forgetConversation(id: number): Promise<void> {
    await this.transaction(async (tx) => {
      await tx.messages.deleteAll(id);
      await tx.conversations.setSystemPrompt(id, null, 0);
      await tx.conversations.markBackfilled(id);
    });
  }

  /** Deletes data older than the cutoffs (retention), in one transaction. */
  async prune(cutoff: number, eventCutoff: number): Promise<PruneResult> {
    try {
      return await this.transaction((tx) => tx.retention.prune(cutoff, eventCutoff));
    } finally {
      this.invalidateCaches();
    }
  }

  /**
   * Exclusive ownership of numbered resources (Discord shards) among the processes sharing this
   * database, in namespace `name`: see locks.ts. The caller closes it.
   */
  resourceLocks(name: string): ResourceLocks {
    return openResourceLocks(this.sql, name);
  }

  /**
   * The barrier before reads that must see every write committed before it, by any replica:
   * a reply, a recorded message, a command. PostgreSQL: one round trip on the listening
   * connection (replica-caches.ts). SQLite: nothing, every write went through this process.
   */
  syncCaches(): Promise<void> {
    return this.replicas === undefined ? SYNCED : this.replicas.sync();
  }

  /**
   * The barrier not waited for, for cache reads checked before they count (read-ahead.ts): its
   * round trip overlaps the statements the caller sends meanwhile. It leaves with the caller's
   * transaction when that passes `takeBarrier()` as its `before`, else when first checked.
   * SQLite: always current.
   */
  readAhead(): ReadAhead {
    if (this.replicas === undefined) return ALWAYS_CURRENT;
    const since = this.replicas.epochs.start();
    const barrier = this.replicas.barrier();
    return barrier === undefined ? readAhead(this.replicas.epochs, since, this.syncCaches()) : readAheadOfBarrier(this.replicas.epochs, since, barrier);
  }

  /** The barrier passed first: reads after it need no check. */
  async readAfterSync(): Promise<ReadAhead> {
    await this.syncCaches();
    return ALWAYS_CURRENT;
  }

  /**
   * Replicas: sends a note on `topic` to every other replica (replica-notes.ts). False when
   * nobody else could hear it (SQLite: one process) or it is too long for a notification.
   */
  async tellReplicas(topic: string, body: string): Promise<boolean> {
    if (this.replicas === undefined) return false;
    const payload = encodeNote(topic, this.replicas.replicaId, body);
    if (!noteFits(payload)) return false;
    await this.sql.get('SELECT pg_notify(?, ?)', [NOTES_CHANNEL, payload]);
    return true;
  }

  /**
   * A turn at something the replicas sharing the database may do once per `windowMs` between
   * them (a Discord IDENTIFY per bucket): 0 when this process just took it, else the ms until it
   * may try again. SQLite: always 0 (one process, which paces itself).
   */
  async takeTurn(key: string, windowMs: number, now = Date.now()): Promise<number> {
    if (this.replicas === undefined) return 0;
    return Number(await this.rateLimits.take([{ key, perWindow: 1 }], now, windowMs));
  }

  /** Calls `listener` with each note on `topic` another replica sent, and that replica's id (PostgreSQL; never on SQLite). */
  onReplicaNote(topic: string, listener: NoteListener): void {
    this.replicas?.notes.listen(topic, listener);
  }

  /** This store's replica id and listening connection (PostgreSQL), for tests. */
  get replication(): ReplicaCaches | undefined {
    return this.replicas;
  }

  isHealthy(): Promise<boolean> {
    return this.sql.ping();
  }

  async close(): Promise<void> {
    await this.replicas?.close();
    await this.sql.close();
  }

  /** This store's repositories and caches, on a transaction's connection. */
  private on(sql: SqlExecutor): Store {
    return new Store(sql, {
      conversations: this.conversations.on(sql),
      messages: this.messages.on(sql),
      instructions: this.instructions.on(sql),
      events: this.events.on(sql),
      jobs: this.jobs.on(sql),
      usage: this.usage.on(sql),
      retention: this.retention.on(sql),
      settings: this.settings.on(sql),
      answers: this.answers.on(sql),
      rateLimits: this.rateLimits.on(sql),
    }, this.replicas);
  }

  private invalidateCaches(): void {
    this.messages.invalidate();
    this.conversations.invalidate();
    this.instructions.invalidate();
    this.settings.invalidate();
  }
}

export { POSTGRES_MIGRATIONS_DIR, redactedUrl };
export { MIGRATIONS_DIR };
export type { PruneResult };
export type { Conversation, StoredMessage, StoredAttachment, InstructionChange, SettingChange, ReplyJob, UsageRecord } from './types.js';

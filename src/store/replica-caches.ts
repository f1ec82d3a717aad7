/**
 * Keeps a PostgreSQL store's caches true to what other replicas commit. The triggers of
 * migrations/postgres/0002_replicas.sql name every change (payload format there); the listener
 * (sql/postgres-listener.ts) hears them; this drops exactly the cache entries they name, and
 * everything when the listener lost its connection. Changes this replica made itself to
 * conversations, instructions and settings are skipped: its repositories wrote them through
 * (and a conversation's minute-resolution activity relies on its cached row). Its own message
 * changes are applied: an edit or delete reloads the thread (as it did in one process), and an
 * insert is fetched only when the cached thread lacks it (a load that began before the insert
 * committed replaced the thread it was appended to).
 *
 * `sync()` is the barrier a reply (or intake, or a command) passes before it reads: afterwards
 * every write any replica committed before the call is either in the caches or no longer cached.
 * While the listener is down the barrier drops every cache instead, so reads go to the database.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Platform } from '../core/types.js';
import { epochKeys, ReplicaEpochs, scopeKey } from './cache-epochs.js';
import { keyOf, type ConversationRepo } from './conversations.js';
import type { InstructionRepo } from './instructions.js';
import type { MessageRepo } from './messages.js';
import type { SettingsRepo } from './settings.js';
import { PostgresListener } from './sql/postgres-listener.js';
import { ReplicaNotes } from './replica-notes.js';

/** A barrier whose statement the caller sends (ReplicaCaches.barrier): settled as `sync()` is. */
export interface ReplicaBarrier {
  readonly sql: string;
  readonly params: readonly string[];
  /** The statement is on the wire as `result` (outside any transaction). */
  sentAs(result: Promise<unknown>): Promise<void>;
  /** Not sent after all: a plain `sync()`. */
  sendHere(): Promise<void>;
}

export interface CachingRepos {
  readonly conversations: ConversationRepo;
  readonly messages: MessageRepo;
  readonly instructions: InstructionRepo;
  readonly settings: SettingsRepo;
}

/** This process's id among the replicas: its connections carry it (`threadline.replica`), the triggers echo it. */
export function newReplicaId(): string {
  return randomBytes(8).toString('hex');
}

export class ReplicaCaches {
  readonly epochs = new ReplicaEpochs();
  /** Notes from the other replicas (replica-notes.ts): heard on the same connection. */
  readonly notes: ReplicaNotes;
  private readonly listener: PostgresListener;
  private repos: CachingRepos | undefined;

  constructor(
    connectionString: string,
    readonly replicaId: string,
    logger?: Logger,
  ) {
    this.notes = new ReplicaNotes(replicaId);
    this.listener = new PostgresListener(
      connectionString,
      replicaId,
      {
        onChange: (payload) => this.changed(payload),
        onNote: (payload) => this.notes.heard(payload),
        onLost: () => this.dropAll(),
      },
      logger,
    );
  }

  /** Starts listening for `repos`' changes; false when the listener cannot connect yet (retried at each sync). */
  start(repos: CachingRepos): Promise<boolean> {
    this.repos = repos;
    for (const repo of [repos.conversations, repos.messages, repos.instructions, repos.settings]) repo.useEpochs(this.epochs);
    return this.listener.start();
  }

  async sync(): Promise<void> {
    if (!(await this.listener.sync())) this.dropAll();
  }

  /**
   * `sync()` with the statement left for the caller to send ahead of a transaction (see
   * PostgresListener.barrier); undefined while the listener is disconnected.
   */
  barrier(): ReplicaBarrier | undefined {
    const pending = this.listener.barrier();
    if (pending === undefined) return undefined;
    const passed = async (ok: Promise<boolean>) => {
      if (!(await ok)) this.dropAll();
    };
    return { sql: pending.sql, params: pending.params, sentAs: (result) => passed(pending.sentAs(result)), sendHere: () => passed(pending.sendHere()) };
  }

  /** Listens again now if the connection was lost (sync retries it too, once a second); true when listening. */
  listen(): Promise<boolean> {
    return this.listener.start();
  }

  /** The listening connection's server process id (for tests that cut it). */
  get listenerProcessId(): number | undefined {
    return this.listener.processId;
  }

  close(): Promise<void> {
    return this.listener.close();
  }

  private changed(payload: string): void {
    const change = parse(payload);
    if (change === undefined) {
      this.dropAll();
      return;
    }
    if (this.repos === undefined) return;
    const { messages } = this.repos;
    switch (change.kind) {
      case 'm+': {
        const [id, messageId] = [Number(change.parts[0]), Number(change.parts[1])];
        this.epochs.changed(epochKeys.messages(id));
        // This replica's own insert is in its cached thread already (appended on the way), unless
        // a load that began before the insert committed replaced that thread: then fetch it too.
        if (change.replica !== this.replicaId || !messages.hasCached(id, messageId)) messages.fetchOnNextRead(id, messageId);
        return;
      }
      case 'm': {
        const id = Number(change.parts[0]);
        this.epochs.changed(epochKeys.messages(id));
        messages.invalidate(id);
        return;
      }
      case 'c':
      case 'i':
      case 's':
        if (change.replica !== this.replicaId) this.dropScope(change);
        return;
      default:
        this.dropAll();
    }
  }

  /** A conversation row, or a scope's instructions or settings, that another replica changed. */
  private dropScope(change: Change): void {
    const { conversations, instructions, settings } = this.repos as CachingRepos;
    switch (change.kind) {
      case 'c': {
        const [id, platform, workspaceId, threadKey] = change.parts as [string, Platform, string, string];
        const thread = { platform, workspaceId, threadKey };
        this.epochs.changed(epochKeys.conversationId(Number(id)));
        this.epochs.changed(epochKeys.conversationThread(keyOf(thread)));
        conversations.dropCached(Number(id), thread);
        return;
      }
      case 'i':
      case 's': {
        const [platform, workspaceId, channelId] = change.parts as [Platform, string, string];
        const scope = scopeKey(platform, workspaceId, channelId);
        if (change.kind === 'i') {
          this.epochs.changed(epochKeys.instructions(scope));
          instructions.dropCached(platform, workspaceId, channelId);
        } else {
          this.epochs.changed(epochKeys.settings(scope));
          settings.dropCached(platform, workspaceId, channelId);
        }
        return;
      }
      default:
        this.dropAll();
    }
  }

  private dropAll(): void {
    this.epochs.changedAll();
    if (this.repos === undefined) return;
    this.repos.messages.invalidate();
    this.repos.conversations.invalidate();
    this.repos.instructions.invalidate();
    this.repos.settings.invalidate();
  }
}

interface Change {
  readonly replica: string;
  readonly kind: string;
  readonly parts: readonly string[];
}

/** A trigger's payload, or undefined when it is not one (then everything is dropped, to be safe). */
function parse(payload: string): Change | undefined {
  try {
    const value: unknown = JSON.parse(payload);
    if (!Array.isArray(value) || value.length < 3 || !value.every((part) => typeof part === 'string')) return undefined;
    const [replica, kind, ...parts] = value as string[];
    return { replica: replica as string, kind: kind as string, parts };
  } catch {
    return undefined;
  }
}

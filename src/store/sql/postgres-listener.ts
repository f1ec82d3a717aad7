/**
 * One dedicated PostgreSQL connection per store that LISTENs for what other replicas commit
 * (`threadline_cache`, sent by the triggers of migrations/postgres/0002_replicas.sql) and the
 * notes they send (`threadline_notes`, replica-notes.ts), and the barrier that makes a
 * read see every write committed before it began: `sync()`.
 *
 * Why the barrier is a notification to ourselves and not a plain round trip: PostgreSQL sends
 * notifications from other sessions to an idle client whenever it gets to them, possibly after
 * the ReadyForQuery of a query that was already running, so `SELECT 1` proves nothing. What it
 * does promise (NOTIFY's documentation) is that notifications from different transactions are
 * delivered in the order the transactions committed (PreCommit_Notify holds a lock until commit
 * for that). So `sync()` commits `pg_notify` on this replica's own channel and waits until that
 * payload comes back: every notification of a transaction that committed before it has been
 * handed to `onChange` by then. The session runs with `synchronous_commit = off`: the barrier's
 * commit has nothing worth a WAL flush.
 *
 * A barrier need not be sent on this connection: `barrier()` hands out its statement for a
 * transaction to send on its own connection just ahead of its BEGIN, in the same write. Run on
 * its own there (autocommit), it commits before the transaction begins, and the order of
 * delivery promises the same; the reply saves a socket write and the round trip on this one.
 *
 * A lost connection (server restart, `pg_terminate_backend`, a barrier that never comes back)
 * calls `onLost`: the caller drops every cache, since notifications in the gap are gone. Until
 * the connection is back, `sync()` resolves `false` at once (the caller then drops its caches
 * per read instead of trusting them), and a reconnect is tried at most once per `retryMs`.
 */
import pg from 'pg';
import type { Logger } from 'pino';

export const CACHE_CHANNEL = 'threadline_cache';
/** Notes from one replica to all (replica-notes.ts). */
export const NOTES_CHANNEL = 'threadline_notes';
/** A barrier that has not come back by then means the connection is stuck. */
const BARRIER_TIMEOUT_MS = 10_000;
const RETRY_MS = 1000;

export interface ListenerHandlers {
  /** A notification on CACHE_CHANNEL: its payload. */
  onChange(payload: string): void;
  /** A notification on NOTES_CHANNEL: its payload. */
  onNote(payload: string): void;
  /** The connection is gone (and with it any notification sent meanwhile), or back: drop every cache. */
  onLost(): void;
}

interface Barrier {
  readonly token: string;
  readonly done: Promise<boolean>;
  resolve(ok: boolean): void;
}

/** A barrier whose statement the caller sends, on another connection: see `PostgresListener.barrier`. */
export interface PendingBarrier {
  /** `SELECT pg_notify(…)` on this replica's channel, with its token: to send outside any transaction. */
  readonly sql: string;
  readonly params: readonly string[];
  /** The statement is on the wire as `result`: true once its token is back, false as `sync()` would be (a failed statement is sent again here). */
  sentAs(result: Promise<unknown>): Promise<boolean>;
  /** Sent nowhere after all: `sync()`. */
  sendHere(): Promise<boolean>;
}

export class PostgresListener {
  private client: pg.Client | undefined;
  private connecting: Promise<boolean> | undefined;
  private lastAttempt = 0;
  /** Whether the connection was lost since it last listened (to log the recovery once). */
  private lost = false;
  private closed = false;
  private sequence = 0;
  /** The barrier on the wire, and the one the next callers share (sent when the first returns). */
  private inFlight: Barrier | undefined;
  private next: Barrier | undefined;
  /** Barriers sent on other connections (`barrier()`), by token; several may be on their way. */
  private readonly sentElsewhere = new Map<string, Barrier>();
  private readonly syncChannel: string;

  constructor(
    private readonly connectionString: string,
    replicaId: string,
    private readonly handlers: ListenerHandlers,
    private readonly logger?: Logger,
    private readonly retryMs = RETRY_MS,
  ) {
    // A channel name is an SQL identifier: a replica id such as a UUID (its dashes) must not end it.
    this.syncChannel = `threadline_sync_${replicaId.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
  }

  /** Connects and LISTENs unless it is; false when the database cannot be reached (retried by `sync`). */
  start(): Promise<boolean> {
    if (this.client !== undefined) return Promise.resolve(true);
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** True once every notification committed before the call was handled; false while disconnected. */
  sync(): Promise<boolean> {
    if (this.client === undefined) {
      if (!this.closed && this.connecting === undefined && Date.now() - this.lastAttempt >= this.retryMs) void this.start();
      return Promise.resolve(false);
    }
    // A barrier already on the wire may have been sent before this call: only the next one counts.
    if (this.inFlight === undefined) return this.send(this.newBarrier());
    this.next ??= this.newBarrier();
    return this.next.done;
  }

  /**
   * A barrier for the caller to send itself, ahead of a transaction on another connection (its
   * statement must run on its own, not inside the transaction); undefined while disconnected,
   * where `sync()` is the way.
   */
  barrier(): PendingBarrier | undefined {
    const client = this.client;
    if (client === undefined) return undefined;
    const barrier = this.newBarrier();
    return {
      sql: 'SELECT pg_notify(?, ?)',
      params: [this.syncChannel, barrier.token],
      sentAs: (result) => {
        if (this.client !== client) return Promise.resolve(false);
        this.sentElsewhere.set(barrier.token, barrier);
        const timer = setTimeout(() => this.lose(client), BARRIER_TIMEOUT_MS);
        timer.unref();
        void barrier.done.then(() => clearTimeout(timer));
        // Its connection failed (the transaction fails with it): the barrier goes here instead.
        result.catch(() => {
          if (this.sentElsewhere.delete(barrier.token)) void this.sync().then(barrier.resolve);
        });
        return barrier.done;
      },
      sendHere: () => this.sync(),
    };
  }

  /** The connection's server process id (tests end it with pg_terminate_backend). */
  get processId(): number | undefined {
    return (this.client as (pg.Client & { processID?: number }) | undefined)?.processID;
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    this.settle(false);
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<boolean> {
    this.lastAttempt = Date.now();
    // Keep-alive: a connection dropped without a word is noticed by the OS, not only by a barrier's timeout.
    const client = new pg.Client({ connectionString: this.connectionString, keepAlive: true });
    client.on('error', () => this.lose(client));
    client.on('end', () => this.lose(client));
    client.on('notification', (message) => this.notified(message));
    try {
      await client.connect();
      await client.query(`SET synchronous_commit = off; LISTEN ${CACHE_CHANNEL}; LISTEN ${NOTES_CHANNEL}; LISTEN ${this.syncChannel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      this.logger?.warn({ err: error instanceof Error ? error.message : String(error) }, 'cannot listen for other replicas’ changes: caches are bypassed until it works (retried every second)');
      return false;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return false;
    }
    this.client = client;
    if (this.lost) this.logger?.info('listening for other replicas’ changes again');
    this.lost = false;
    // Whatever was committed while nobody listened is unknown: nothing cached before now counts.
    this.handlers.onLost();
    return true;
  }

  private newBarrier(): Barrier {
    let resolve: (ok: boolean) => void = () => undefined;
    const done = new Promise<boolean>((settle) => (resolve = settle));
    this.sequence += 1;
    return { token: String(this.sequence), done, resolve };
  }

  private send(barrier: Barrier): Promise<boolean> {
    const client = this.client;
    if (client === undefined) {
      barrier.resolve(false);
      return barrier.done;
    }
    this.inFlight = barrier;
    const timer = setTimeout(() => this.lose(client), BARRIER_TIMEOUT_MS);
    timer.unref();
    client.query('SELECT pg_notify($1, $2)', [this.syncChannel, barrier.token]).catch(() => this.lose(client));
    void barrier.done.then(() => clearTimeout(timer));
    return barrier.done;
  }

  private notified(message: pg.Notification): void {
    if (message.channel === CACHE_CHANNEL) {
      this.handlers.onChange(message.payload ?? '');
      return;
    }
    if (message.channel === NOTES_CHANNEL) {
      this.handlers.onNote(message.payload ?? '');
      return;
    }
    if (message.channel !== this.syncChannel) return;
    const elsewhere = this.sentElsewhere.get(message.payload ?? '');
    if (elsewhere !== undefined) {
      this.sentElsewhere.delete(elsewhere.token);
      elsewhere.resolve(true);
      return;
    }
    const barrier = this.inFlight;
    if (barrier === undefined || barrier.token !== message.payload) return;
    barrier.resolve(true);
    this.inFlight = undefined;
    const waiting = this.next;
    this.next = undefined;
    if (waiting !== undefined) void this.send(waiting);
  }

  private lose(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.lost = true;
    this.logger?.warn('lost the connection that listens for other replicas’ changes: caches dropped and bypassed until it is back');
    this.handlers.onLost();
    this.settle(false);
    void client.end().catch(() => undefined);
  }

  /** Every waiting barrier resolves: with `false` after a loss, so its caller trusts no cache. */
  private settle(ok: boolean): void {
    this.inFlight?.resolve(ok);
    this.next?.resolve(ok);
    for (const barrier of this.sentElsewhere.values()) barrier.resolve(ok);
    this.inFlight = undefined;
    this.next = undefined;
    this.sentElsewhere.clear();
  }
}

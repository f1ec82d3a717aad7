/**
 * Liveness as operators see it at `GET /healthz`. Adapters report their own connection state;
 * the shape is fixed by interface.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** `standby`: a Discord replica that holds no gateway shard (others do); healthy. */
export type AdapterState = 'ready' | 'connecting' | 'standby' | 'off';
export type AdapterName = 'discord' | 'slack' | 'web';

export class Health {
  private readonly states: Record<AdapterName, AdapterState> = { discord: 'off', slack: 'off', web: 'off' };
  private readonly configured = new Set<AdapterName>();

  /** `dbCheck` may ask the database (PostgreSQL answers asynchronously). */
  constructor(private readonly dbCheck: () => boolean | Promise<boolean>) {}

  /** An adapter that runs starts as `connecting`; one that never runs stays `off` and does not count. */
  enable(name: AdapterName): void {
    this.configured.add(name);
    this.states[name] = 'connecting';
  }

  set(name: AdapterName, state: AdapterState): void {
    this.states[name] = state;
  }

  get(name: AdapterName): AdapterState {
    return this.states[name];
  }

  /** `web` appears only when the playground runs (interface.md). */
  async snapshot(): Promise<{ ok: boolean; discord: AdapterState; slack: AdapterState; db: 'ok' | 'error'; web?: AdapterState }> {
    const db = (await Promise.resolve().then(this.dbCheck).catch(() => false)) ? 'ok' : 'error';
    const adaptersUp = [...this.configured].every((name) => this.states[name] === 'ready' || this.states[name] === 'standby');
    return {
      ok: adaptersUp && db === 'ok',
      discord: this.states.discord,
      slack: this.states.slack,
      db,
      ...(this.configured.has('web') ? { web: this.states.web } : {}),
    };
  }

  /** A plain node:http handler, usable on our own server and as a Bolt custom route. */
  readonly handle = async (_req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await this.snapshot();
    res.writeHead(body.ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}

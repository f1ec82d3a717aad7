/**
 * The model ids the Messages API offers (`GET /v1/models`), asked at most every few minutes:
 * `/settings set key:model` and its autocomplete read it, a reply never does.
 */
import type { Logger } from 'pino';
import type { ModelClient } from '../model-client.js';

export const MODEL_LIST_TTL_MS = 5 * 60_000;

export type ModelList = { readonly ok: true; readonly ids: readonly string[] } | { readonly ok: false; readonly error: string };

export class ModelCatalog {
  private cached: { readonly at: number; readonly ids: readonly string[] } | undefined;
  /** One request in flight however many admins ask at once. */
  private loading: Promise<ModelList> | undefined;

  constructor(
    private readonly client: Pick<ModelClient, 'listModels'>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = MODEL_LIST_TTL_MS,
  ) {}

  async list(): Promise<ModelList> {
    if (this.cached !== undefined && this.now() - this.cached.at < this.ttlMs) return { ok: true, ids: this.cached.ids };
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<ModelList> {
    try {
      const ids = await this.client.listModels();
      this.cached = { at: this.now(), ids };
      return { ok: true, ids };
    } catch (error) {
      // A list from a few minutes ago beats refusing every model while the API is down.
      if (this.cached !== undefined) {
        this.logger.warn({ err: error }, 'could not refresh the model list; using the last one');
        return { ok: true, ids: this.cached.ids };
      }
      this.logger.warn({ err: error }, 'could not read the model list');
      return { ok: false, error: `I could not read the list of models from the Messages API (${error instanceof Error ? error.message : String(error)}). Please try again in a moment.` };
    }
  }
}

/** Ids matching what was typed, best first (prefix, then substring), for autocomplete and hints. */
export function matchingModels(ids: readonly string[], typed: string, limit: number): string[] {
  const query = typed.trim().toLowerCase();
  const prefix = ids.filter((id) => id.toLowerCase().startsWith(query));
  const inside = ids.filter((id) => !id.toLowerCase().startsWith(query) && id.toLowerCase().includes(query));
  return [...prefix, ...inside].slice(0, limit);
}

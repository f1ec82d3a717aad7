/**
 * Anthropic's web search and web fetch server tools in one place (issue #17). Answering
 * (`chat/answering.ts`) asks `plan` for each reply's tools, runs the turn with `completeTurn`
 * and hands the result to `turnOutcome`; the rest of the core sees only text, notes and sources.
 */
import type { Logger } from 'pino';
import type { ThreadlineError } from '../../errors.js';
import type { Platform, ThreadRef } from '../types.js';
import { applySearchBudget } from './budget.js';
import { utcDayStart } from '../durations.js';
import { webToolDefinitions, type ServerToolDefinition, type WebToolLimits, type WebToolSwitches } from './definitions.js';

export { completeTurn, type TurnResult } from './turn.js';
export { turnOutcome, type TurnOutcome } from './outcome.js';
export type { ServerToolDefinition, WebToolLimits, WebToolSwitches } from './definitions.js';

export const DEFAULT_WEB_TOOL_LIMITS: WebToolLimits = { searchMaxUses: 5, fetchMaxUses: 5 };

export interface WebToolsOptions {
  readonly limits?: WebToolLimits;
  /** Web searches per server/workspace per UTC day; 0 or absent: no budget. */
  readonly dailySearchBudget?: number;
  /** Searches a workspace made since a time (the usage store). */
  readonly searchesSince: (platform: Platform, workspaceId: string, since: number) => Promise<number>;
  readonly now: () => number;
}

export interface WebToolPlan {
  /** The request's `tools`, or undefined for none. */
  readonly tools: ServerToolDefinition[] | undefined;
  readonly notes: readonly string[];
}

const UNSUPPORTED_NOTE = 'Web search and reading links are not available with this model or API endpoint, so I answered without them.';

export class WebTools {
  /** Models the API refused the server tools for (or an endpoint without them): their replies go without, rather than fail. */
  private readonly unsupported = new Set<string>();

  constructor(private readonly options: WebToolsOptions) {}

  /**
   * The tools one reply may use, given which are on for its channel (the `web_search` /
   * `web_fetch` settings). Decided once per reply: a paused turn continues with the same list.
   */
  async plan(thread: ThreadRef, modelId: string, switches: WebToolSwitches): Promise<WebToolPlan> {
    if (this.unsupported.has(modelId)) return { tools: undefined, notes: [] };
    const perDay = this.options.dailySearchBudget ?? 0;
    const decision = applySearchBudget(switches, this.options.limits ?? DEFAULT_WEB_TOOL_LIMITS, {
      perDay,
      usedToday: switches.webSearch && perDay > 0 ? await this.options.searchesSince(thread.platform, thread.workspaceId, utcDayStart(this.options.now())) : 0,
      scope: thread.platform === 'discord' ? 'server' : 'workspace',
    });
    return { tools: webToolDefinitions(decision.switches, decision.limits), notes: decision.note === undefined ? [] : [decision.note] };
  }

  /**
   * The plan to retry with when the API answered 400 about the tools themselves, or undefined
   * when the failure has nothing to do with them. From then on this process sends this model no
   * web tools: a model or endpoint without them must not turn every answer into an error.
   */
  withoutRejectedTools(failure: ThreadlineError, plan: WebToolPlan, modelId: string, log: Logger): WebToolPlan | undefined {
    if (plan.tools === undefined || failure.code !== 'model_bad_request' || !/\btools\.\d|web_search|web_fetch/.test(failure.message)) return undefined;
    this.unsupported.add(modelId);
    log.warn({ requestId: failure.requestId, model: modelId }, `the Messages API refused the web tools; answering without them from now on: ${failure.message}`);
    return { tools: undefined, notes: [...plan.notes, UNSUPPORTED_NOTE] };
  }
}

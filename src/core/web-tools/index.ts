/**
 * Anthropic's web search and web fetch server tools in one place (issue #17). `ChatService`
 * asks `plan` for each reply's tools, runs the turn with `completeTurn` and hands the result to
 * `turnOutcome`; the rest of the core sees only text, notes and sources.
 */
import type { Platform, ThreadRef } from '../types.js';
import { applySearchBudget, utcDayStart } from './budget.js';
import { webToolDefinitions, type ServerToolDefinition, type WebToolLimits, type WebToolSwitches } from './definitions.js';

export { completeTurn, type TurnResult } from './turn.js';
export { turnOutcome, type TurnOutcome } from './outcome.js';
export type { ServerToolDefinition, WebToolLimits, WebToolSwitches } from './definitions.js';

export const DEFAULT_WEB_TOOL_LIMITS: WebToolLimits = { searchMaxUses: 5, fetchMaxUses: 5 };

export interface WebToolsOptions {
  /** Which tools are on for a thread (the `web_search` / `web_fetch` settings); absent: none. */
  readonly switches?: (thread: ThreadRef) => WebToolSwitches;
  readonly limits?: WebToolLimits;
  /** Web searches per server/workspace per UTC day; 0 or absent: no budget. */
  readonly dailySearchBudget?: number;
  /** Searches a workspace made since a time (the usage store). */
  readonly searchesSince: (platform: Platform, workspaceId: string, since: number) => number;
  readonly now: () => number;
}

export interface WebToolPlan {
  /** The request's `tools`, or undefined for none. */
  readonly tools: ServerToolDefinition[] | undefined;
  readonly notes: readonly string[];
}

export class WebTools {
  constructor(private readonly options: WebToolsOptions) {}

  /** The tools one reply may use. Decided once per reply: a paused turn continues with the same list. */
  plan(thread: ThreadRef): WebToolPlan {
    const switches = this.options.switches?.(thread) ?? { webSearch: false, webFetch: false };
    const perDay = this.options.dailySearchBudget ?? 0;
    const decision = applySearchBudget(switches, this.options.limits ?? DEFAULT_WEB_TOOL_LIMITS, {
      perDay,
      usedToday: switches.webSearch && perDay > 0 ? this.options.searchesSince(thread.platform, thread.workspaceId, utcDayStart(this.options.now())) : 0,
      scope: thread.platform === 'discord' ? 'server' : 'workspace',
    });
    return { tools: webToolDefinitions(decision.switches, decision.limits), notes: decision.note === undefined ? [] : [decision.note] };
  }
}

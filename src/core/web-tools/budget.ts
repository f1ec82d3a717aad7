/**
 * The daily web-search budget (`DAILY_SEARCH_BUDGET`): searches per server/workspace per UTC
 * day. Spent, web search is off for the rest of the day and the answer says so; nearly spent, a
 * reply may search only as often as the budget has left.
 */
import type { WebToolLimits, WebToolSwitches } from './definitions.js';

export interface SearchBudgetDecision {
  readonly switches: WebToolSwitches;
  readonly limits: WebToolLimits;
  /** For the user, when the budget turned search off. */
  readonly note?: string;
}

export function applySearchBudget(
  switches: WebToolSwitches,
  limits: WebToolLimits,
  budget: { readonly perDay: number; readonly usedToday: number; readonly scope: 'server' | 'workspace' },
): SearchBudgetDecision {
  if (!switches.webSearch || budget.perDay <= 0) return { switches, limits };
  const left = budget.perDay - budget.usedToday;
  if (left <= 0) {
    return {
      switches: { ...switches, webSearch: false },
      limits,
      note: `Web search is off until midnight UTC: this ${budget.scope} has used its ${budget.perDay} searches for today.`,
    };
  }
  return { switches, limits: left < limits.searchMaxUses ? { ...limits, searchMaxUses: left } : limits };
}


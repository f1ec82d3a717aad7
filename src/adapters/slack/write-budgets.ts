/**
 * Slack's write limits as budgets for the WriteScheduler (slack-platform.md). None is spent
 * ahead: the per-method tiers ("Tier 2: 20+ per minute") are floors with bursts allowed, and the
 * channel limit is "about one message a second, short bursts tolerated"; holding every burst to
 * those numbers would make answers wait minutes that Slack would have taken. A 429 is honoured by
 * Slack's client, which pauses all its calls for the `retry-after` it names; the scheduler's
 * priorities decide what goes first when writes wait.
 */
import type { WriteBudget } from '../../core/concurrency/write-scheduler.js';

export function slackBudgets(_method: string, _teamId: string, _channel: string): WriteBudget[] {
  return [];
}

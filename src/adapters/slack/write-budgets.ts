/**
 * Slack's write limits as budgets for the WriteScheduler (slack-platform.md). Only the one limit
 * Slack states as a rate is spent proactively: about one new message a second per channel
 * (`chat.postMessage`). The per-method tiers ("Tier 2: 20+ per minute", bursts allowed) are
 * floors, not ceilings: holding every burst to them would make answers wait minutes that Slack
 * would have taken. A 429 there is honoured by Slack's client, which pauses all its calls for
 * the `retry-after` it names; the scheduler's priorities decide what goes first after.
 */
import type { WriteBudget } from '../../core/concurrency/write-scheduler.js';

export function slackBudgets(method: string, teamId: string, channel: string): WriteBudget[] {
  return method === 'chat.postMessage' ? [{ key: `${teamId}:${channel}:messages`, limit: 1, windowMs: 1000 }] : [];
}

/**
 * Slack's write limits as budgets for the WriteScheduler (slack-platform.md): each Web API
 * method has a per-workspace tier (Tier 2 about 20 calls a minute, Tier 3 about 50, Tier 4
 * about 100), and messages in one channel go at about one a second (short bursts tolerated).
 */
import type { WriteBudget } from '../../core/concurrency/write-scheduler.js';

const MINUTE_MS = 60_000;
const PER_MINUTE: Record<string, number> = {
  'chat.startStream': 20,
  'chat.stopStream': 20,
  'chat.appendStream': 100,
  'chat.update': 50,
  'chat.delete': 50,
  'reactions.add': 50,
  'reactions.remove': 50,
};
/** Methods that put a message into a channel (post, stream start): about one a second there. */
const CHANNEL_MESSAGES = new Set(['chat.postMessage', 'chat.startStream']);

export function slackBudgets(method: string, teamId: string, channel: string): WriteBudget[] {
  const budgets: WriteBudget[] = [];
  const perMinute = PER_MINUTE[method];
  if (perMinute !== undefined) budgets.push({ key: `${teamId}:${method}`, limit: perMinute, windowMs: MINUTE_MS });
  if (CHANNEL_MESSAGES.has(method)) budgets.push({ key: `${teamId}:${channel}:messages`, limit: 1, windowMs: 1000 });
  return budgets;
}

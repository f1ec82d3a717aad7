/** `/usage` as text: totals by channel and by user, newest window first. */
import type { VoteCounts } from '../store/answers.js';
import type { UsageRow } from '../store/usage.js';
import type { CommandReply } from './instructions.js';
import type { UsageCommand } from './types.js';

export const USAGE_WINDOWS = [1, 7, 30] as const;

export function formatUsage(command: UsageCommand, byChannel: readonly UsageRow[], byUser: readonly UsageRow[], votes?: VoteCounts): CommandReply {
  const label = command.label ?? ((kind: 'channel' | 'user', id: string) => (kind === 'channel' ? `#${id}` : id));
  const period = command.days === 1 ? 'the last day' : `the last ${command.days} days`;
  const feedback = votes === undefined ? [] : [feedbackLine(votes)];
  if (byChannel.length === 0) return { ok: true, text: [`No replies in ${period}.`, ...feedback].join('\n') };
  const line = (row: UsageRow, name: string) =>
    `• ${name}: ${row.replies} repl${row.replies === 1 ? 'y' : 'ies'}, ${fmt(row.inputTokens + row.cacheReadTokens + row.cacheCreationTokens)} input tokens (${percent(row.cacheReadTokens, row.inputTokens + row.cacheReadTokens + row.cacheCreationTokens)} from cache), ${fmt(row.outputTokens)} output tokens${webToolsPart(row)}`;
  const searches = byChannel.reduce((sum, row) => sum + row.webSearchRequests, 0);
  const fetches = byChannel.reduce((sum, row) => sum + row.webFetchRequests, 0);
  return {
    ok: true,
    text: [
      `Claude usage in ${period}:`,
      ...(searches + fetches === 0 ? [] : [webToolsTotal(searches, fetches)]),
      '*By channel*',
      ...byChannel.map((row) => line(row, label('channel', row.key))),
      '*By user*',
      ...byUser.map((row) => line(row, label('user', row.key))),
      ...feedback,
    ].join('\n'),
  };
}

/** Web search is billed per search (anthropic-api-rules.md §14); fetches cost tokens only. */
export const SEARCH_COST_USD_PER_1000 = 10;

function webToolsPart(row: UsageRow): string {
  const parts = [
    ...(row.webSearchRequests > 0 ? [`${fmt(row.webSearchRequests)} web search${row.webSearchRequests === 1 ? '' : 'es'}`] : []),
    ...(row.webFetchRequests > 0 ? [`${fmt(row.webFetchRequests)} page${row.webFetchRequests === 1 ? '' : 's'} read`] : []),
  ];
  return parts.length === 0 ? '' : `, ${parts.join(', ')}`;
}

function webToolsTotal(searches: number, fetches: number): string {
  const cost = (searches * SEARCH_COST_USD_PER_1000) / 1000;
  return `Web tools: ${fmt(searches)} search${searches === 1 ? '' : 'es'} (about $${cost.toFixed(2)} at $${SEARCH_COST_USD_PER_1000} per 1,000, plus their tokens), ${fmt(fetches)} page${fetches === 1 ? '' : 's'} read (tokens only)`;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${Math.round((part / whole) * 100)}%`;
}

/** Votes on answers (each person's latest per answer, cast in the period): counts and the share of 👍. */
export function feedbackLine(votes: VoteCounts): string {
  const total = votes.up + votes.down;
  if (total === 0) return '*Feedback*: no 👍/👎 votes yet.';
  return `*Feedback*: ${votes.up} 👍, ${votes.down} 👎 (${percent(votes.up, total)} 👍)`;
}

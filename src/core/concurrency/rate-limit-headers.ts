/**
 * Reading the Messages API's rate-limit announcements (anthropic-api-rules.md §15): every
 * response carries `anthropic-ratelimit-{requests,tokens}-remaining` (`tokens-*` is the most
 * restrictive token limit now), and a 429 adds `retry-after` (seconds; `retry-after-ms` first,
 * as the SDK reads them).
 */
import type { Headroom } from './adaptive-concurrency.js';

interface HeaderSource {
  get(name: string): string | null;
}

function numberHeader(headers: HeaderSource, name: string): number | undefined {
  const raw = headers.get(name);
  if (raw === null || raw.trim() === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

export function headroomFrom(headers: HeaderSource | undefined): Headroom {
  if (headers === undefined) return {};
  const requestsRemaining = numberHeader(headers, 'anthropic-ratelimit-requests-remaining');
  const tokensRemaining = numberHeader(headers, 'anthropic-ratelimit-tokens-remaining');
  const requestsLimit = numberHeader(headers, 'anthropic-ratelimit-requests-limit');
  const tokensLimit = numberHeader(headers, 'anthropic-ratelimit-tokens-limit');
  return {
    ...(requestsRemaining === undefined ? {} : { requestsRemaining }),
    ...(tokensRemaining === undefined ? {} : { tokensRemaining }),
    ...(requestsLimit === undefined ? {} : { requestsLimit }),
    ...(tokensLimit === undefined ? {} : { tokensLimit }),
  };
}

/** How long the API asked us to wait, in ms; `undefined` when it did not say. */
export function retryAfterMs(headers: HeaderSource | undefined, now = Date.now()): number | undefined {
  if (headers === undefined) return undefined;
  const ms = numberHeader(headers, 'retry-after-ms');
  if (ms !== undefined && ms >= 0) return ms;
  const raw = headers.get('retry-after');
  if (raw === null || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

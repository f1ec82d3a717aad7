/**
 * Keeps the bot's WriteScheduler in step with every REST request discord.js makes, not only the
 * answers' writes, history reads and thread openings that ask it first. Discord's global limit
 * (50 requests a second) counts them all: the client's own calls at login (`/users/@me`,
 * `/gateway/bot`), the command registration, a thread's starter message. A burst of mentions
 * right after a start would otherwise find the window fuller than the scheduler knew, and the one
 * 429 it then met holds every answer's writes for the second Discord asks. Interaction responses
 * and webhooks are outside the limit.
 */
import type { Logger } from 'pino';
import type { WriteBudget, WriteScheduler } from '../../core/concurrency/write-scheduler.js';

/**
 * Routes sent through the scheduler (the reply sinks, typing signs, history reads, thread
 * openings: outbound.ts, typing.ts, history.ts, open-thread.ts), counted when their ticket ends.
 */
const ASKED_FIRST = new Set([
  'POST /channels/:id/messages',
  'PATCH /channels/:id/messages/:id',
  'DELETE /channels/:id/messages/:id',
  'POST /channels/:id/typing',
  'GET /channels/:id/messages',
  'POST /channels/:id/messages/:id/threads',
]);

/** Whether Discord counts a request on this route against the global limit that the scheduler has not counted yet. */
export function spendsUnasked(method: string, route: string): boolean {
  if (route.startsWith('/interactions/') || route.startsWith('/webhooks/')) return false;
  return !ASKED_FIRST.has(`${method.toUpperCase()} ${route}`);
}

/**
 * Sends a request that stands between a mention and its answer (a history read, the opening of
 * the answer's thread) when the write budget has room, as a `first` write: the adapter's
 * WriteScheduler. Its route is then counted by its ticket, not again when it comes back.
 */
export type ScheduledRequest = <T>(request: () => Promise<T>) => Promise<T>;

/** What discord.js's REST manager lets the adapter listen to. */
export interface RestEvents {
  on(event: 'rateLimited', listener: (info: { route: string; retryAfter: number; global: boolean }) => void): unknown;
  on(event: 'response', listener: (request: { method: string; route: string }) => void): unknown;
}

/** Listens to one REST manager (the REST-only client's, each shard client's). */
export function watchRestBudget(rest: RestEvents, scheduler: WriteScheduler, budget: WriteBudget, logger: Logger): void {
  rest.on('rateLimited', (info) => {
    logger.debug({ route: info.route, retryAfter: info.retryAfter, global: info.global }, 'Discord rate limit; waiting');
    // discord.js waits the route out itself; a global limit holds every answer's writes too.
    if (info.global) scheduler.hold(budget.key, info.retryAfter);
  });
  rest.on('response', (request) => {
    if (spendsUnasked(request.method, request.route)) scheduler.spent(budget.key);
  });
}

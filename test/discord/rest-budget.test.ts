/** Which of discord.js's REST requests spend the global budget without having asked the write scheduler (history reads and thread openings ask it). */
import { describe, expect, it } from 'vitest';
import { spendsUnasked } from '../../src/adapters/discord/rest-budget.js';

describe('spendsUnasked', () => {
  it.each([
    ['GET', '/users/@me', true],
    ['GET', '/gateway/bot', true],
    ['PUT', '/applications/:id/guilds/:id/commands', true],
    ['GET', '/channels/:id/messages/:id', true],
    ['GET', '/channels/:id', true],
    ['POST', '/attachments/refresh-urls', true],
    ['POST', '/channels/:id/messages', false],
    ['patch', '/channels/:id/messages/:id', false],
    ['DELETE', '/channels/:id/messages/:id', false],
    ['POST', '/channels/:id/typing', false],
    ['GET', '/channels/:id/messages', false],
    ['POST', '/channels/:id/messages/:id/threads', false],
    ['POST', '/interactions/:id/:token/callback', false],
    ['PATCH', '/webhooks/:id/:token/messages/@original', false],
  ])('%s %s → %s', (method, route, expected) => {
    expect(spendsUnasked(method, route)).toBe(expected);
  });
});

/** Web tools on Slack: the real Bolt adapter and core against the fake Slack and fake Messages API. */
import { afterEach, describe, expect, it } from 'vitest';
import { toSlackMrkdwn } from '../../src/adapters/slack/markdown.js';
import { startSlackWorld, type SlackWorld } from './setup.js';

const CHANNEL = 'C0GENERAL1';
const ALICE = 'U0ALICE001';

describe('Slack: web search and fetch', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  async function ask(world: SlackWorld, text: string) {
    const message = world.slack.seed(CHANNEL, ALICE, `<@${world.slack.botUserId}> ${text}`);
    await world.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, team: world.slack.team });
    return message;
  }

  it.each(['native streaming', 'the post-and-update fallback'] as const)(
    'shows the tool status, then the answer with <url|title> sources and unfurling off (%s)',
    async (how) => {
      w = await startSlackWorld('http', {
        webTools: { search: true, fetch: true },
        anthropic: { web: { pages: { 'https://www.example.com/doc': { title: 'Example Doc', text: 'The doc says hello.' } } } },
        ...(how === 'native streaming' ? {} : { fake: { failing: { 'chat.startStream': 'unknown_method' } } }),
      });
      w.h.anthropic.enqueue({ toolCalls: [{ search: 'example doc' }, { fetch: 'https://www.example.com/doc' }], text: 'That is all. <!channel>' });
      const message = await ask(w, 'summarize https://www.example.com/doc and search for context');
      await w.h.anthropic.waitForRequests(1);
      await w.h.core.idle();

      const statuses = w.slack.calls.entries.filter((c) => c.method === 'assistant.threads.setStatus').map((c) => c.args.status);
      expect(statuses).toEqual(['is thinking…', 'is searching the web…', 'is reading example.com…', '']);
      const [reply] = w.slack.botMessages(CHANNEL, message.ts);
      const sources = '1. [Result 1 for example doc](https://results.example/example-doc/1)\n2. [Result 2 for example doc](https://results.example/example-doc/2)\n3. [Example Doc](https://www.example.com/doc)';
      expect(reply?.text.endsWith(`\n\nSources:\n${sources}`)).toBe(true);
      expect(reply?.text).not.toContain('<!channel>');
      // The fallback text of the final post or update carries Slack's own link syntax.
      const finals = w.slack.calls.entries.filter((c) => c.method === 'chat.update' || c.method === 'chat.postMessage');
      const fallback = String(finals.at(-1)?.args.text ?? '');
      expect(fallback).toContain('<https://www.example.com/doc|Example Doc>');
      const rawBlocks = finals.at(-1)?.args.blocks;
      const blocks = (typeof rawBlocks === 'string' ? JSON.parse(rawBlocks) : rawBlocks) as Array<{ type: string; text: string }>;
      expect(blocks[0]?.text.endsWith(sources)).toBe(true);
      expect(fallback).toBe(toSlackMrkdwn(blocks[0]?.text ?? ''));
      const posts = w.slack.calls.entries.filter((c) => c.method === 'chat.postMessage');
      if (how !== 'native streaming') expect(posts.length).toBeGreaterThan(0);
      for (const post of posts) expect([String(post.args.unfurl_links), String(post.args.unfurl_media)]).toEqual(['false', 'false']);
      // The stored turn is what people saw; the next request carries it as plain text.
      await w.replyInThread(message.ts, ALICE, 'thanks!');
      await w.h.anthropic.waitForRequests(2);
      await w.h.core.idle();
      const next = w.h.anthropic.messageRequests()[1];
      expect(next?.status).toBe(200);
      const assistant = (next?.body.messages as Array<{ role: string; content: Array<{ type: string; text: string }> }>).find((m) => m.role === 'assistant');
      expect(assistant?.content).toEqual([{ type: 'text', text: expect.stringContaining('Sources:\n1. Result 1 for example doc (https://results.example/example-doc/1)') }]);
    },
  );

  it('outside assistant threads, shows a running search or fetch as a reaction on the question, removed with the answer', async () => {
    w = await startSlackWorld('socket', { webTools: { search: true, fetch: true }, fake: { failing: { 'assistant.threads.setStatus': 'not_allowed' } } });
    w.h.anthropic.enqueue({ toolCalls: [{ search: 'a' }, { search: 'b' }, { fetch: 'https://results.example/a/1' }], text: 'Done.' });
    const message = await ask(w, 'look around');
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const reactions = w.slack.calls.entries.filter((c) => c.method.startsWith('reactions.')).map((c) => `${c.method} ${String(c.args.name)}`);
    expect(reactions.filter((r) => r.startsWith('reactions.add')).sort()).toEqual(['reactions.add hourglass_flowing_sand', 'reactions.add mag', 'reactions.add page_facing_up']);
    expect(reactions.filter((r) => r.startsWith('reactions.remove')).sort()).toEqual(['reactions.remove hourglass_flowing_sand', 'reactions.remove mag', 'reactions.remove page_facing_up']);
    expect(w.slack.botMessages(CHANNEL, message.ts)[0]?.text).toContain('Done.');
  });
});

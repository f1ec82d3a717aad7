/** Slack's assistant panel through Bolt: greeting and suggested prompts, title, viewed channel, status. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startSlackWorld, type SlackWorld } from './setup.js';

const ALICE = 'U0ALICE001';
const DM = 'D0ALICE001';

describe('Slack assistant panel', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  async function askInPanel(world: SlackWorld, threadTs: string, text: string) {
    const message = world.slack.seed(DM, ALICE, text, { thread_ts: threadTs });
    await world.deliver({ type: 'message', channel_type: 'im', user: ALICE, text, ts: message.ts, thread_ts: threadTs, channel: DM, team: world.slack.team });
    await world.h.anthropic.waitForRequests(world.h.anthropic.messageRequests().length + 1);
    await world.h.core.idle();
  }

  const lastUserText = (world: SlackWorld) => {
    const messages = world.h.anthropic.messageRequests().at(-1)!.body.messages as Array<{ role: string; content: Array<{ text?: string }> }>;
    return messages.filter((m) => m.role === 'user').at(-1)!.content.map((c) => c.text ?? '').join('\n');
  };

  it.each(['http', 'socket'] as const)('greets a new thread with suggested prompts, titles it from the first question and tells the model the viewed channel (%s)', async (mode) => {
    w = await startSlackWorld(mode);
    const threadTs = w.slack.nextTs();
    const started = { type: 'assistant_thread_started', assistant_thread: { user_id: ALICE, channel_id: DM, thread_ts: threadTs, context: { channel_id: 'C0GENERAL1', team_id: w.slack.team } }, event_ts: threadTs };
    await w.deliver(started);
    const prompts = await w.slack.calls.waitFor((c) => c.method === 'assistant.threads.setSuggestedPrompts', 'suggested prompts');
    expect(prompts.response?.ok).toBe(true);
    expect(prompts.args).toMatchObject({ channel_id: DM, thread_ts: threadTs });
    const list = (typeof prompts.args.prompts === 'string' ? JSON.parse(prompts.args.prompts) : prompts.args.prompts) as Array<{ title: string; message: string }>;
    expect(list.length).toBeGreaterThan(0);
    expect(list.length).toBeLessThanOrEqual(4);
    const greeting = await w.slack.calls.waitFor((c) => c.method === 'chat.postMessage' && c.args.channel === DM, 'greeting');
    expect(greeting.args).toMatchObject({ thread_ts: threadTs, text: expect.stringMatching(/^Hi!/) });

    await askInPanel(w, threadTs, 'What is going on in this channel today?');
    expect(lastUserText(w)).toContain('#channel-c0general1');
    const title = w.slack.calls.entries.filter((c) => c.method === 'assistant.threads.setTitle');
    expect(title.map((c) => c.args)).toEqual([{ channel_id: DM, thread_ts: threadTs, title: 'What is going on in this channel today?' }]);
    expect(w.slack.calls.entries.some((c) => c.method === 'assistant.threads.setStatus' && c.args.thread_ts === threadTs && String(c.args.status) !== '')).toBe(true);
    expect(w.slack.botMessages(DM, threadTs).at(-1)!.text).toContain('echo');

    await w.deliver({ type: 'assistant_thread_context_changed', assistant_thread: { user_id: ALICE, channel_id: DM, thread_ts: threadTs, context: { channel_id: 'C0RANDOM01', team_id: w.slack.team } }, event_ts: w.slack.nextTs() });
    const world = w;
    await vi.waitFor(async () => expect((await world.h.store.answers.assistantThread('slack', world.slack.team, `${DM}:${threadTs}`))?.contextChannelId).toBe('C0RANDOM01'));
    await askInPanel(w, threadTs, 'And here?');
    expect(lastUserText(w)).toContain('#channel-c0random01');
    expect(lastUserText(w)).not.toContain('c0general1');
    expect(w.slack.calls.entries.filter((c) => c.method === 'assistant.threads.setTitle')).toHaveLength(1);
  });

  it('suggests the prompts admins set with /settings set prompts', async () => {
    w = await startSlackWorld('http', { adminUserIds: [ALICE] });
    const payload = w.slack.slashCommand('/settings', 'set prompts Draft the weekly update | List open questions', ALICE);
    const id = payload.response_url!.split('/respond/')[1]!;
    await w.slack.sendHttp(w.eventsUrl, new URLSearchParams(payload).toString(), { contentType: 'application/x-www-form-urlencoded' });
    expect(String((await w.slack.responses.waitFor((r) => r.id === id, 'settings answer')).body.text)).toMatch(/`prompts` set/);
    const threadTs = w.slack.nextTs();
    await w.deliver({ type: 'assistant_thread_started', assistant_thread: { user_id: ALICE, channel_id: DM, thread_ts: threadTs, context: {} }, event_ts: threadTs });
    const prompts = await w.slack.calls.waitFor((c) => c.method === 'assistant.threads.setSuggestedPrompts', 'suggested prompts');
    const list = (typeof prompts.args.prompts === 'string' ? JSON.parse(prompts.args.prompts) : prompts.args.prompts) as Array<{ title: string; message: string }>;
    expect(list.map((p) => p.message)).toEqual(['Draft the weekly update', 'List open questions']);
  });

  it('stores the viewed channel per thread (two threads, two channels)', async () => {
    w = await startSlackWorld('http');
    const first = w.slack.nextTs();
    const second = w.slack.nextTs();
    for (const [ts, channel] of [[first, 'C0FIRST001'], [second, 'C0SECOND01']] as const) {
      await w.deliver({ type: 'assistant_thread_started', assistant_thread: { user_id: ALICE, channel_id: DM, thread_ts: ts, context: { channel_id: channel, team_id: w.slack.team } }, event_ts: ts });
      await w.slack.calls.waitFor((c) => c.method === 'chat.postMessage' && c.args.thread_ts === ts, 'greeting');
    }
    await askInPanel(w, first, 'first?');
    expect(lastUserText(w)).toContain('c0first001');
    await askInPanel(w, second, 'second?');
    expect(lastUserText(w)).toContain('c0second01');
  });
});

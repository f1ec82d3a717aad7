import { describe, expect, it } from 'vitest';
import { authorKindOf, threadRef, toAttachments, toInbound, tsToMs } from '../../src/adapters/slack/inbound.js';
import { ThreadLanes } from '../../src/adapters/slack/lanes.js';
import { decodeSlackText } from '../../src/adapters/slack/mrkdwn-decode.js';

const BOT = { userId: 'U0BOT', botId: 'B0BOT' };
const names: Record<string, string> = { U0ALICE: 'Alice', U0BOB: 'Bob' };
const nameOf = async (id: string) => names[id] ?? id;

describe('Slack mrkdwn → model text', () => {
  it.each([
    ['<@U0BOT> what is this?', 'what is this?'],
    ['hey <@U0BOT>, can you help?', 'hey, can you help?'],
    ['ask <@U0BOT> and <@U0ALICE>', 'ask and @Alice'],
    ['<@U0BOB|bob> said hi', '@Bob said hi'],
    ['<@U0NOBODY> said hi', '@U0NOBODY said hi'],
    ['see <#C123|general> and <#C456>', 'see #general and #C456'],
    ['read <https://x.test/a?b=1&amp;c=2|the docs> or <https://y.test>', 'read the docs (https://x.test/a?b=1&c=2) or https://y.test'],
    ['<https://same.test|https://same.test>', 'https://same.test'],
    ['mail <mailto:a@b.test|a@b.test>', 'mail a@b.test'],
    ['1 &lt; 2 &amp;&amp; 3 &gt; 2', '1 < 2 && 3 > 2'],
    ['literal &amp;lt; stays', 'literal &lt; stays'],
    ['<!here> <!channel> <!everyone|everyone>', '@here @channel @everyone'],
    ['<!subteam^S123|@oncall> look', '@oncall look'],
    ['due <!date^1700000000^{date}|Nov 14>', 'due Nov 14'],
    ['<@U0BOT>\n```\ndef f():\n    return  1\n```', '```\ndef f():\n    return  1\n```'],
    ['first line\n<@U0BOT> second', 'first line\nsecond'],
  ])('%j → %j', async (input, expected) => {
    expect(await decodeSlackText(input, BOT.userId, nameOf)).toBe(expected);
  });

  it('looks each user up once per message', async () => {
    const looked: string[] = [];
    await decodeSlackText('<@U0ALICE> <@U0ALICE> <@U0BOB> <@U0BOT>', BOT.userId, async (id) => {
      looked.push(id);
      return id;
    });
    expect(looked.sort()).toEqual(['U0ALICE', 'U0BOB']);
  });
});

describe('Slack events → InboundMessage', () => {
  it('keys a thread by channel and the parent ts (its own ts at the top level)', () => {
    expect(threadRef('T1', 'C1', { ts: '10.000001' })).toEqual({ platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadKey: 'C1:10.000001' });
    expect(threadRef('T1', 'C1', { ts: '12.000001', thread_ts: '10.000001' }).threadKey).toBe('C1:10.000001');
  });

  it.each([
    [{ ts: '1', user: 'U0BOT' }, 'self'],
    [{ ts: '1', bot_id: 'B0BOT', subtype: 'bot_message' }, 'self'],
    [{ ts: '1', user: 'U0OTHER', bot_id: 'B0OTHER' }, 'bot'],
    [{ ts: '1', bot_id: 'B0OTHER', subtype: 'bot_message' }, 'bot'],
    [{ ts: '1', user: 'U0ALICE' }, 'user'],
  ] as const)('%j is %s', (message, kind) => {
    expect(authorKindOf(message, BOT)).toBe(kind);
  });

  it('maps files with their size, type and dimensions, preferring the download URL', () => {
    const [file] = toAttachments([
      { id: 'F1', name: 'shot.png', mimetype: 'image/png', size: 42, url_private: 'https://files.slack.com/a', url_private_download: 'https://files.slack.com/a?dl', original_w: '800', original_h: 600 },
      { id: 'F2', name: 'no url' },
    ]);
    expect(file).toEqual({ id: 'F1', name: 'shot.png', mediaType: 'image/png', size: 42, width: 800, height: 600, url: 'https://files.slack.com/a?dl', urlExpiresAt: null });
    expect(toAttachments(undefined)).toEqual([]);
  });

  it('builds the message the core expects', async () => {
    const msg = await toInbound(
      { ts: '1700000000.123456', thread_ts: '1700000000.000001', user: 'U0ALICE', text: '<@U0BOT> hi <@U0BOB>' },
      { team: 'T1', channel: 'C1', isDirect: false, dedupeKeys: ['slack-event:Ev1'] },
      BOT,
      nameOf,
    );
    expect(msg).toEqual({
      thread: { platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadKey: 'C1:1700000000.000001' },
      messageId: '1700000000.123456',
      author: { id: 'U0ALICE', name: 'Alice', kind: 'user' },
      text: 'hi @Bob',
      createdAt: tsToMs('1700000000.123456'),
      attachments: [],
      mentionsBot: true,
      isDirect: false,
      dedupeKeys: ['slack-event:Ev1'],
    });
    expect(msg.createdAt).toBe(1_700_000_000_123);
  });
});

describe('thread lanes', () => {
  it('hands a thread’s events over in arrival order even when an earlier translation is slower', async () => {
    const lanes = new ThreadLanes();
    const delivered: string[] = [];
    let releaseSlow!: () => void;
    const slow = new Promise<string>((resolve) => (releaseSlow = () => resolve('first')));
    const a = lanes.enqueue('t', () => slow, async (v) => void delivered.push(v));
    const b = lanes.enqueue('t', async () => 'second', async (v) => void delivered.push(v));
    const other = lanes.enqueue('u', async () => 'other thread', async (v) => void delivered.push(v));
    await other;
    expect(delivered).toEqual(['other thread']);
    releaseSlow();
    await Promise.all([a, b]);
    expect(delivered).toEqual(['other thread', 'first', 'second']);
  });

  it('does not hold the next event while the core answers, and reports idle only when all is done', async () => {
    const lanes = new ThreadLanes();
    let finishAnswer!: () => void;
    const answering = new Promise<void>((resolve) => (finishAnswer = resolve));
    const first = lanes.enqueue('t', async () => 1, () => answering);
    const second = lanes.enqueue('t', async () => 2, async () => undefined);
    await second;
    await lanes.handedOver();
    let idle = false;
    const waiting = lanes.idle().then(() => (idle = true));
    await Promise.resolve();
    expect(idle).toBe(false);
    finishAnswer();
    await first;
    await waiting;
  });

  it('keeps a lane going after a failed translation', async () => {
    const lanes = new ThreadLanes();
    await expect(lanes.enqueue('t', async () => Promise.reject(new Error('users.info down')), async () => undefined)).rejects.toThrow('users.info down');
    const seen: number[] = [];
    await lanes.enqueue('t', async () => 7, async (v) => void seen.push(v));
    expect(seen).toEqual([7]);
  });
});

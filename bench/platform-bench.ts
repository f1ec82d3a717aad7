/**
 * Platform-level figures, with the real Discord adapter against the fake Discord: history reads
 * per reply in a synced thread, and how soon the first text is visible after the model's first
 * token.
 */
import { snowflake } from '../test/fakes/discord/fake-discord.js';
import { startDiscordWorld } from '../test/discord/setup.js';
import { median } from './stats.js';

export interface HistoryFigure {
  readonly replies: number;
  readonly historyCallsFirstReply: number;
  readonly historyCallsPerLaterReply: number;
}

export async function historyCallsPerReply(threadSize: number, replies: number): Promise<HistoryFigure> {
  let threadId = '';
  const w = await startDiscordWorld({
    logLevel: 'warn',
    before: (discord) => {
      const parent = discord.addTextChannel('bench');
      threadId = discord.addThread(parent.id, 'synced', snowflake(), false).id;
      const user = discord.user('100000000000000001', 'Alice');
      for (let i = 0; i < threadSize; i += 1) discord.seed(threadId, user, `message ${i}`);
    },
  });
  try {
    const reads = () => w.discord.rest.entries.filter((r) => r.method === 'GET' && r.path === `/channels/${threadId}/messages`).length;
    for (let i = 0; i < replies; i += 1) {
      w.discord.post(threadId, w.alice, w.discord.mention(`question ${i}`));
      await w.h.anthropic.waitForRequests(i + 1);
      await w.h.core.idle();
      if (i === 0) var first = reads();
    }
    const firstReads = first!;
    return { replies, historyCallsFirstReply: firstReads, historyCallsPerLaterReply: (reads() - firstReads) / (replies - 1) };
  } finally {
    await w.close();
  }
}

export interface FirstTextFigure {
  readonly samples: number;
  readonly medianMs: number;
  readonly maxMs: number;
}

/** Model's first token → first message visible in the thread, for a reply the model writes over ~3 s. */
export async function firstTokenToVisible(samples: number): Promise<FirstTextFigure> {
  const w = await startDiscordWorld({ logLevel: 'warn', spacingMs: 1000 });
  try {
    const gaps: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      w.h.anthropic.enqueue({ text: 'The short answer is yes. '.repeat(40), chunkSize: 10, chunkDelayMs: 30 });
      const mention = w.discord.post(w.general.id, w.alice, w.discord.mention(`question ${i}`));
      const firstPost = await w.discord.rest.waitFor((r) => r.method === 'POST' && r.path === `/channels/${mention.id}/messages` && r.status === 200, 'first visible text');
      const request = w.h.anthropic.messageRequests().at(-1);
      gaps.push(firstPost.at - (request?.firstTokenAt ?? firstPost.at));
      await w.h.core.idle();
    }
    return { samples, medianMs: median(gaps), maxMs: Math.max(...gaps) };
  } finally {
    await w.close();
  }
}

/**
 * Figure 1: the bot's time per reply against its floor (the same request sent bare through the
 * SDK to the same double, plus one platform post), on SQLite and, when a PostgreSQL server is
 * given, on PostgreSQL in the same run. The backends take turns reply by reply (in alternating
 * order), so load from elsewhere on a shared machine falls on both alike and the difference
 * between them stays readable.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { ThreadRef } from '../src/core/types.js';
import { createCoreHarness, TEST_API_KEY, type Harness } from '../test/helpers/harness.js';
import { inbound } from '../test/helpers/messages.js';
import { postingSink } from './core-bench.js';
import { startPlatformStub, type PlatformStub } from './platform-stub.js';
import { median, timed } from './stats.js';

export interface OverheadFigure {
  readonly messages: number;
  readonly botMs: number;
  readonly floorMs: number;
  readonly ratio: number;
}

export interface OverheadFigures {
  readonly sqlite: OverheadFigure[];
  /** Absent without a PostgreSQL server. */
  readonly postgres?: OverheadFigure[];
}

/** A throwaway PostgreSQL database per measured thread size. */
export type DatabaseFactory = () => Promise<{ readonly url: string; drop(): Promise<void> }>;

/** Figure 1 at each size; a throwaway round first warms the JIT, so the first size is not the one paying for it. */
export async function overheadPerReply(sizes: readonly number[], repetitions: number, postgres?: DatabaseFactory): Promise<OverheadFigures> {
  await measure(100, 10, postgres);
  const sqlite: OverheadFigure[] = [];
  const onPostgres: OverheadFigure[] = [];
  for (const size of sizes) {
    const [first, second] = await measure(size, repetitions, postgres);
    sqlite.push(first as OverheadFigure);
    if (second !== undefined) onPostgres.push(second);
  }
  return postgres === undefined ? { sqlite } : { sqlite, postgres: onPostgres };
}

/** One backend's bot, with its thread of `size` messages, and the floor next to it. */
interface Side {
  readonly h: Harness;
  readonly platform: PlatformStub;
  readonly sdk: Anthropic;
  readonly ref: ThreadRef;
  readonly bot: number[];
  readonly floor: number[];
  close(): Promise<void>;
}

async function openSide(size: number, database?: { readonly url: string; drop(): Promise<void> }): Promise<Side> {
  const h = await createCoreHarness({ followUpWithoutMention: false, contextBudgetTokens: 1_000_000, logLevel: 'info', ...(database === undefined ? {} : { databaseUrl: database.url }) });
  const platform = await startPlatformStub();
  // Configured as the bot's client is (model-client.ts: no OpenTelemetry spans), so the floor is
  // the same call and the ratio counts only the bot's own work.
  const sdk = new Anthropic({ apiKey: TEST_API_KEY, baseURL: h.anthropic.url, maxRetries: 0, openTelemetry: false });
  const ref: ThreadRef = { platform: 'discord', workspaceId: 'bench-guild', channelId: 'bench-channel', threadKey: `overhead-${size}` };
  // Platform timestamps as a live thread has them: the past, then now (the bot's answers are stamped now too).
  const startedAt = Date.now() - size * 1000;
  await h.core.handle(inbound('start', { thread: ref, mentionsBot: true, createdAt: startedAt }), { sink: () => postingSink(platform) });
  const filler = Array.from({ length: size - 2 }, (_, i) =>
    inbound(`message ${i}: ${'some thread content '.repeat(5)}`, { thread: ref, author: { id: `u${i % 4}`, name: `User ${i % 4}` }, createdAt: startedAt + (i + 1) * 1000 }),
  );
  await h.core.ingest(filler);
  return {
    h,
    platform,
    sdk,
    ref,
    bot: [],
    floor: [],
    async close() {
      await platform.close();
      await h.close();
      await database?.drop();
    },
  };
}

/** One reply by the bot, then the same request bare through the SDK plus one post. */
async function replyAndFloor(side: Side, rep: number, keep: boolean): Promise<void> {
  const { h, platform, sdk, ref } = side;
  const mention = inbound(`question ${rep}?`, { thread: ref, mentionsBot: true, createdAt: Date.now() });
  const botRun = await timed(() => h.core.handle(mention, { sink: () => postingSink(platform) }));
  const body = h.anthropic.messageRequests().at(-1)?.body as Record<string, unknown>;
  h.anthropic.forgetRequests();
  const floorRun = await timed(async () => {
    const stream = await sdk.messages.create({ ...(body as unknown as Anthropic.Messages.MessageCreateParamsNonStreaming), stream: true });
    let text = '';
    for await (const event of stream) if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    await platform.post(text);
  });
  if (keep) {
    side.bot.push(botRun.ms);
    side.floor.push(floorRun.ms);
  }
}

/** SQLite first in the result; PostgreSQL second when `postgres` is given. */
async function measure(size: number, repetitions: number, postgres?: DatabaseFactory): Promise<OverheadFigure[]> {
  const sides: Side[] = [];
  try {
    sides.push(await openSide(size));
    if (postgres !== undefined) sides.push(await openSide(size, await postgres()));
    for (let rep = 0; rep < repetitions + 2; rep += 1) {
      // The first two runs warm the JIT and connections on every side; the order alternates.
      const order = rep % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) await replyAndFloor(side, rep, rep >= 2);
    }
    return sides.map((side) => {
      const botMs = median(side.bot);
      const floorMs = median(side.floor);
      return { messages: size, botMs, floorMs, ratio: botMs / floorMs };
    });
  } finally {
    for (const side of sides) await side.close();
  }
}

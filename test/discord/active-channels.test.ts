/**
 * Which channels a new session reads back for mentions besides those the bot answers in
 * (activeChannelsOf): written in since the answer window began, readable by the bot, the newest
 * first, at most MAX_ACTIVE_CHANNELS.
 */
import { PermissionFlagsBits, SnowflakeUtil, type Client } from 'discord.js';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { activeChannelsOf, MAX_ACTIVE_CHANNELS } from '../../src/adapters/discord/history.js';

const NOW = Date.UTC(2026, 11, 4, 12);
const SINCE = NOW - 30 * 60 * 1000;

interface ChannelShape {
  readonly id: string;
  /** Minutes before NOW of its newest message; null: no message. */
  readonly ago: number | null;
  readonly text?: boolean;
  readonly readable?: boolean | null;
  /** Messages written in the same millisecond still order by their snowflake's sequence. */
  readonly sequence?: number;
}

/** A client whose guilds hold `channels`, as far as activeChannelsOf looks. */
function clientWith(guilds: ReadonlyArray<readonly ChannelShape[]>): Client {
  const toChannel = (shape: ChannelShape) => ({
    id: shape.id,
    lastMessageId: shape.ago === null ? null : String((SnowflakeUtil.generate({ timestamp: NOW - shape.ago * 60_000 }) & ~0xfffn) | BigInt(shape.sequence ?? 0)),
    isTextBased: () => shape.text ?? true,
    // null: the bot's member is not cached, so its permissions are unknown.
    permissionsFor: () => (shape.readable === null ? null : { has: (flags: bigint[]) => (shape.readable ?? true) && flags.includes(PermissionFlagsBits.ViewChannel) }),
  });
  const cacheOf = <T extends { id: string }>(items: readonly T[]) => new Map(items.map((item) => [item.id, item]));
  return { user: { id: 'bot' }, guilds: { cache: cacheOf(guilds.map((channels, index) => ({ id: `g${index}`, channels: { cache: cacheOf(channels.map(toChannel)) } }))) } } as unknown as Client;
}

describe('activeChannelsOf', () => {
  it.each<[string, ReadonlyArray<readonly ChannelShape[]>, string[]]>([
    ['written in within the window, newest first, across guilds', [[{ id: 'a', ago: 20 }, { id: 'b', ago: 5 }], [{ id: 'c', ago: 10 }]], ['b', 'c', 'a']],
    ['not those quiet since before the window, nor those never written in', [[{ id: 'old', ago: 31 }, { id: 'new', ago: 29 }, { id: 'empty', ago: null }]], ['new']],
    ['not those the bot may not read', [[{ id: 'hidden', ago: 1, readable: false }, { id: 'open', ago: 2 }]], ['open']],
    ['those whose permissions are unknown: tried', [[{ id: 'unknown', ago: 1, readable: null }]], ['unknown']],
    ['not voice or category channels without text', [[{ id: 'category', ago: 1, text: false }, { id: 'general', ago: 2 }]], ['general']],
    ['the same millisecond ordered by snowflake', [[{ id: 'first', ago: 3, sequence: 1 }, { id: 'second', ago: 3, sequence: 2 }]], ['second', 'first']],
  ])('%s', (_name, guilds, expected) => {
    expect(activeChannelsOf(clientWith(guilds), SINCE, pino({ level: 'silent' }))).toEqual(expected);
  });

  it(`reads at most ${MAX_ACTIVE_CHANNELS}, the newest, and says how many were left`, () => {
    const channels = Array.from({ length: MAX_ACTIVE_CHANNELS + 2 }, (_, i) => ({ id: `c${i}`, ago: 0, sequence: i }));
    const warnings: unknown[] = [];
    const logger = { warn: (fields: unknown) => warnings.push(fields) } as unknown as pino.Logger;
    const read = activeChannelsOf(clientWith([channels]), SINCE, logger);
    expect(read).toEqual(channels.slice(2).reverse().map((channel) => channel.id));
    expect(warnings).toEqual([{ active: MAX_ACTIVE_CHANNELS + 2, read: MAX_ACTIVE_CHANNELS }]);
  });
});

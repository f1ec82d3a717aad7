/**
 * Which changes make reads taken ahead of the barrier stale (read-ahead.ts): the thread's
 * conversation (by key or id), its messages when they were read, the channel's or its
 * workspace's settings when they were read, or everything (a lost listener); nothing else.
 */
import { describe, expect, it } from 'vitest';
import { epochKeys, ReplicaEpochs, scopeKey } from '../../src/store/cache-epochs.js';
import { keyOf } from '../../src/store/conversations.js';
import { ALWAYS_CURRENT, readAhead, type CachedReads } from '../../src/store/read-ahead.js';

const thread = { platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadKey: '1.0' } as const;
const all: CachedReads = { thread, conversationId: 7, messagesOf: 7, settingsOf: thread };
const bare: CachedReads = { thread };

describe('reads ahead of the barrier', () => {
  it.each([
    { change: 'nothing', apply: () => undefined, reads: all, current: true },
    { change: 'the thread’s conversation, by key', apply: (e: ReplicaEpochs) => e.changed(epochKeys.conversationThread(keyOf(thread))), reads: bare, current: false },
    { change: 'the conversation, by id', apply: (e: ReplicaEpochs) => e.changed(epochKeys.conversationId(7)), reads: all, current: false },
    { change: 'another conversation', apply: (e: ReplicaEpochs) => e.changed(epochKeys.conversationId(8)), reads: all, current: true },
    { change: 'its messages, read', apply: (e: ReplicaEpochs) => e.changed(epochKeys.messages(7)), reads: all, current: false },
    { change: 'its messages, not read', apply: (e: ReplicaEpochs) => e.changed(epochKeys.messages(7)), reads: { thread, conversationId: 7 }, current: true },
    { change: 'the channel’s settings', apply: (e: ReplicaEpochs) => e.changed(epochKeys.settings(scopeKey('slack', 'T1', 'C1'))), reads: all, current: false },
    { change: 'the workspace’s settings', apply: (e: ReplicaEpochs) => e.changed(epochKeys.settings(scopeKey('slack', 'T1', ''))), reads: all, current: false },
    { change: 'settings, not read', apply: (e: ReplicaEpochs) => e.changed(epochKeys.settings(scopeKey('slack', 'T1', 'C1'))), reads: bare, current: true },
    { change: 'another channel’s settings', apply: (e: ReplicaEpochs) => e.changed(epochKeys.settings(scopeKey('slack', 'T1', 'C2'))), reads: all, current: true },
    { change: 'instructions (intake reads none)', apply: (e: ReplicaEpochs) => e.changed(epochKeys.instructions(scopeKey('slack', 'T1', 'C1'))), reads: all, current: true },
    { change: 'everything (listener lost)', apply: (e: ReplicaEpochs) => e.changedAll(), reads: bare, current: false },
  ])('a change to $change while the barrier is out: current $current', async ({ apply, reads, current }) => {
    const epochs = new ReplicaEpochs();
    epochs.changed('before'); // changes heard before the reads began never count
    let arrive!: () => void;
    const synced = new Promise<void>((resolve) => (arrive = resolve));
    const ahead = readAhead(epochs, epochs.start(), synced);
    const checked = ahead.current(reads);
    // What the barrier brings in is heard before it resolves.
    apply(epochs);
    arrive();
    expect(await checked).toBe(current);
  });

  it('SQLite (one process): always current', async () => {
    expect(await ALWAYS_CURRENT.current(all)).toBe(true);
  });
});

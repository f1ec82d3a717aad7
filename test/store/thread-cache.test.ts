/** The thread cache's bookkeeping of rows other replicas added, and the epochs that keep racing loads out of the caches. */
import { describe, expect, it } from 'vitest';
import { ReplicaEpochs, SINGLE_PROCESS } from '../../src/store/cache-epochs.js';
import { ThreadCache } from '../../src/store/thread-cache.js';
import type { StoredMessage } from '../../src/store/types.js';

const row = (id: number, createdAt: number, text = `t${id}`): StoredMessage => ({
  id, conversationId: 1, platformMessageId: `m${id}`, authorId: 'U1', authorName: 'Ann', authorKind: 'user', role: 'user', text, createdAt,
  editedAt: null, deletedAt: null, replyToMessageId: null, replyPartOf: null, attachments: [],
});

describe('ThreadCache', () => {
  it.each<[string, Array<[number, number]>, Array<[number, number]>, number[]]>([
    ['appends newer rows', [[1, 10], [2, 20]], [[3, 30]], [1, 2, 3]],
    ['puts an older row in its place', [[1, 10], [2, 20]], [[3, 15]], [1, 3, 2]],
    ['orders equal times by id', [[1, 10], [4, 20]], [[3, 20], [2, 10]], [1, 2, 3, 4]],
    ['replaces a row it has (its attachments came later)', [[1, 10], [2, 20]], [[2, 20]], [1, 2]],
  ])('merge %s', (_name, cached, fetched, expected) => {
    const cache = new ThreadCache(4);
    const rows = cached.map(([id, at]) => row(id, at));
    cache.set(1, rows);
    cache.fetchOnNextRead(1, 99);
    expect(cache.complete(1)).toBeUndefined();
    const taken = cache.takeAdded(1);
    expect(taken?.ids).toEqual([99]);
    expect(cache.merge(1, taken?.rows ?? [], fetched.map(([id, at]) => row(id, at, 'fetched')))).toBe(true);
    expect(cache.complete(1)?.map((message) => message.id)).toEqual(expected);
  });

  it('ignores additions to threads it does not hold, and refuses a merge into a thread dropped meanwhile', () => {
    const cache = new ThreadCache(4);
    cache.fetchOnNextRead(7, 1);
    expect(cache.takeAdded(7)).toBeUndefined();
    cache.set(1, [row(1, 10)]);
    cache.fetchOnNextRead(1, 2);
    const taken = cache.takeAdded(1);
    // Heard during the fetch: kept for the next read.
    cache.fetchOnNextRead(1, 3);
    cache.delete(1);
    expect(cache.merge(1, taken?.rows ?? [], [row(2, 20)])).toBe(false);
    cache.set(1, [row(1, 10)]);
    expect(cache.complete(1)).toHaveLength(1);
    expect(cache.has(1, 1)).toBe(true);
    expect(cache.has(1, 2)).toBe(false);
  });
});

describe('ReplicaEpochs', () => {
  it('refuses to cache a load that a change to its key, or to everything, overtook', () => {
    const epochs = new ReplicaEpochs();
    const before = epochs.start();
    epochs.changed('m:1');
    expect(epochs.unchanged('m:1', before)).toBe(false);
    expect(epochs.unchanged('m:2', before)).toBe(true);
    const after = epochs.start();
    expect(epochs.unchanged('m:1', after)).toBe(true);
    epochs.changedAll();
    expect(epochs.unchanged('m:2', after)).toBe(false);
    expect(SINGLE_PROCESS.unchanged('m:1', SINGLE_PROCESS.start())).toBe(true);
  });

  it('counts a forgotten key as changed when it was forgotten after the load began', () => {
    const epochs = new ReplicaEpochs();
    const before = epochs.start();
    for (let key = 0; key < 10_001; key += 1) epochs.changed(`m:${key}`);
    expect(epochs.unchanged('m:0', before)).toBe(false);
    const after = epochs.start();
    expect(epochs.unchanged('m:0', after)).toBe(true);
  });
});

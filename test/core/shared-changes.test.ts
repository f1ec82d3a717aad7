/** A tombstone as the note that tells the other replicas of it (core/intake/shared-changes.ts). */
import { describe, expect, it } from 'vitest';
import { decodeEarlyChange, encodeEarlyChange } from '../../src/core/intake/shared-changes.js';
import { THREAD } from '../helpers/messages.js';

const image = { id: 'f1', name: 'a.png', mediaType: 'image/png', size: 10, url: 'https://cdn.example/a.png' };

describe('shared early changes', () => {
  it.each([
    ['a delete', { kind: 'deleted', at: 5 }],
    ['an edit', { kind: 'edited', at: 6, text: 'new text' }],
    ['an edit with attachments', { kind: 'edited', at: 7, text: 'see this', attachments: [image] }],
  ] as const)('reads back %s as it was', (_name, change) => {
    expect(decodeEarlyChange(encodeEarlyChange(THREAD, 'm1', change))).toEqual({ thread: THREAD, messageId: 'm1', change });
  });

  it('keeps only the thread’s own fields', () => {
    const body = encodeEarlyChange({ ...THREAD, extra: 'x' } as typeof THREAD, 'm1', { kind: 'deleted', at: 1 });
    expect(JSON.parse(body).thread).toEqual({ platform: THREAD.platform, workspaceId: THREAD.workspaceId, channelId: THREAD.channelId, threadKey: THREAD.threadKey });
  });

  const valid = { thread: THREAD, messageId: 'm1', change: { kind: 'deleted', at: 1 } };
  it.each([
    ['not JSON', 'deleted m1'],
    ['no thread', JSON.stringify({ ...valid, thread: undefined })],
    ['an unknown platform', JSON.stringify({ ...valid, thread: { ...THREAD, platform: 'irc' } })],
    ['a numeric message id', JSON.stringify({ ...valid, messageId: 1 })],
    ['an unknown kind of change', JSON.stringify({ ...valid, change: { kind: 'pinned', at: 1 } })],
    ['a change with no time', JSON.stringify({ ...valid, change: { kind: 'deleted' } })],
    ['an edit with no text', JSON.stringify({ ...valid, change: { kind: 'edited', at: 1 } })],
    ['an edit with a malformed attachment', JSON.stringify({ ...valid, change: { kind: 'edited', at: 1, text: 't', attachments: [{ id: 'f1' }] } })],
    ['an array', JSON.stringify([valid])],
  ])('ignores %s', (_name, body) => {
    expect(decodeEarlyChange(body)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { orderThread, threadUpTo } from '../../src/core/history.js';
import type { StoredMessage } from '../../src/store/types.js';

/** `u5` is user message 5; `a7>5` is assistant message 7 answering 5; `s8>5` a system message placed after 5. */
function thread(spec: string): StoredMessage[] {
  return spec.split(' ').map((token, position) => {
    const match = /^([uas])(\d+)(?:>(\d+))?$/.exec(token);
    if (match === null) throw new Error(`bad token ${token}`);
    const [, kind, id, anchor] = match;
    const role = kind === 'u' ? 'user' : kind === 'a' ? 'assistant' : 'system';
    return {
      id: Number(id),
      conversationId: 1,
      platformMessageId: `p${id}`,
      authorId: role === 'user' ? 'u' : 'self',
      authorName: 'x',
      authorKind: role === 'user' ? 'user' : role === 'assistant' ? 'self' : 'system',
      role,
      text: token,
      createdAt: position,
      editedAt: null,
      deletedAt: null,
      replyToMessageId: anchor === undefined ? null : Number(anchor),
      replyPartOf: null,
      attachments: [],
    };
  });
}

const ids = (messages: readonly StoredMessage[]) => messages.map((message) => message.text).join(' ');

describe('orderThread', () => {
  const cases: Array<[name: string, stored: string, ordered: string]> = [
    ['already in order', 'u1 a2>1 u3 a4>3 u5', 'u1 a2>1 u3 a4>3 u5'],
    ['an answer posted after later chatter moves up to its question', 'u1 u2 a3>1', 'u1 a3>1 u2'],
    ['several answers to one message keep the order they were stored in', 'u1 u2 a4>1 a3>1', 'u1 a3>1 a4>1 u2'],
    ['a system message stays after the turn it belongs to', 'u1 u2 s3>1 a4>1', 'u1 s3>1 a4>1 u2'],
    ['an answer to a deleted message stays where it is', 'u1 a3>2 u4', 'u1 a3>2 u4'],
    ['a user message that replies to another is never moved', 'u1 u2 u3>1', 'u1 u2 u3>1'],
    ['two answered questions, answers swapped in time', 'u1 u2 a4>2 a3>1', 'u1 a3>1 u2 a4>2'],
    ['empty', '', ''],
  ];
  it.each(cases)('%s', (_name, stored, expected) => {
    const messages = stored === '' ? [] : thread(stored);
    expect(ids(orderThread(messages))).toBe(expected);
  });

  it('returns the very rows it was given (no copies)', () => {
    const messages = thread('u1 u2 a3>1');
    for (const message of orderThread(messages)) expect(messages).toContain(message);
  });
});

describe('threadUpTo', () => {
  const cases: Array<[name: string, ordered: string, answering: number, expected: string]> = [
    ['everything up to the message being answered', 'u1 a2>1 u3 u4', 3, 'u1 a2>1 u3'],
    ['with the system messages placed right after it', 'u1 s2>1 s3>1 u4', 1, 'u1 s2>1 s3>1'],
    ['an unknown message gives nothing', 'u1 u2', 9, ''],
  ];
  it.each(cases)('%s', (_name, ordered, answering, expected) => {
    expect(ids(threadUpTo(thread(ordered), answering))).toBe(expected);
  });
});

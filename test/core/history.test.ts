import { describe, expect, it } from 'vitest';
import { ThreadOrder, orderThread, threadUpTo } from '../../src/core/history.js';
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

describe('ThreadOrder', () => {
  it.each([1, 2, 3, 4])('orders like orderThread, row for row, as a random thread grows (seed %i)', (seed) => {
    let state = seed;
    const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const order = new ThreadOrder();
    let rows: StoredMessage[] = [];
    let nextId = 1;
    const add = (role: StoredMessage['role'], anchor: number | null) => {
      const [message] = thread(`${role[0]}${nextId}${anchor === null ? '' : `>${anchor}`}`);
      nextId += 1;
      rows = [...rows, message as StoredMessage];
    };
    for (let step = 0; step < 300; step += 1) {
      const users = rows.filter((message) => message.role === 'user');
      const roll = random();
      if (roll < 0.45 || users.length === 0) add('user', null);
      else if (roll < 0.8) add('assistant', (users[users.length - 1] as StoredMessage).id);
      else if (roll < 0.88) add(random() < 0.5 ? 'assistant' : 'system', (users[Math.floor(random() * users.length)] as StoredMessage).id);
      else if (roll < 0.9) add('assistant', nextId + 1000); // answers a message that is gone
      else if (roll < 0.95 && rows.length > 0) {
        const gone = Math.floor(random() * rows.length);
        rows = rows.filter((_, i) => i !== gone);
        add('user', null); // a deletion followed by a new message: as long as before, but not the same rows
      }
      else if (rows.length > 0) rows = rows.map((message) => ({ ...message, text: `${message.text}*` })); // an edit reloads every row of the thread
      const ordered = order.order(rows);
      const expected = orderThread(rows);
      expect(ids(ordered)).toBe(ids(expected));
      expect(ordered.every((message, i) => message === expected[i])).toBe(true);
    }
  });
});

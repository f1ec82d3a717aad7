/**
 * Stored rows → the conversation as the model should read it. No I/O.
 */
import type { StoredMessage } from '../store/types.js';

/**
 * Orders a thread for the model: messages by time, and each message's dependents (the bot's
 * answer, a system message placed after it) directly after it, in the order they were stored.
 * Without this, an answer posted after later chatter would sit after that chatter, and the
 * conversation would no longer end on the turn being answered.
 */
export function orderThread(messages: readonly StoredMessage[]): readonly StoredMessage[] {
  return inThreadOrder(messages) ? messages : reorder(messages);
}

/** The usual case, checked without allocating: every answer already sits right after what it answers. */
function inThreadOrder(messages: readonly StoredMessage[]): boolean {
  return advance({ head: undefined, lastDependentId: Number.NEGATIVE_INFINITY }, messages, 0);
}

/** Where an in-order walk stands: the last message that is not an answer, and its newest answer so far. */
interface OrderCursor {
  head: StoredMessage | undefined;
  lastDependentId: number;
}

const isDependentKind = (message: StoredMessage) => message.replyToMessageId !== null && message.role !== 'user';

/** Walks `messages` from `from` on; false as soon as one is out of thread order. Moves the cursor. */
function advance(cursor: OrderCursor, messages: readonly StoredMessage[], from: number): boolean {
  for (let i = from; i < messages.length; i += 1) {
    const message = messages[i] as StoredMessage;
    if (!isDependentKind(message)) {
      cursor.head = message;
      cursor.lastDependentId = Number.NEGATIVE_INFINITY;
    } else if (message.replyToMessageId === cursor.head?.id && message.id > cursor.lastDependentId) {
      cursor.lastDependentId = message.id;
    } else {
      return false;
    }
  }
  return true;
}

/** The cursor at the end of an ordered thread, if its tail is a message followed only by its own answers. */
function cursorAtEnd(ordered: readonly StoredMessage[]): OrderCursor | undefined {
  let start = ordered.length;
  while (start > 0 && isDependentKind(ordered[start - 1] as StoredMessage)) start -= 1;
  const head = ordered[start - 1];
  const cursor: OrderCursor = { head, lastDependentId: Number.NEGATIVE_INFINITY };
  if (head === undefined) return start === ordered.length ? cursor : undefined;
  return advance(cursor, ordered, start) ? cursor : undefined;
}

/**
 * One conversation's thread order, kept between replies. Rows only added at the end, in order
 * (a new question, its answer), extend the last result instead of ordering the thread again;
 * anything else (an edit or deletion reloads the rows, an answer out of place) orders it afresh.
 */
export class ThreadOrder {
  private last: { rows: readonly StoredMessage[]; ordered: readonly StoredMessage[]; cursor: OrderCursor | undefined } | undefined;

  order(rows: readonly StoredMessage[]): readonly StoredMessage[] {
    const last = this.last;
    if (last?.cursor !== undefined && rows.length >= last.rows.length && startsWith(rows, last.rows)) {
      const cursor = { ...last.cursor };
      if (advance(cursor, rows, last.rows.length)) {
        const ordered = last.ordered.concat(rows.slice(last.rows.length));
        this.last = { rows, ordered, cursor };
        return ordered;
      }
    }
    const ordered = orderThread(rows);
    this.last = { rows, ordered, cursor: cursorAtEnd(ordered) };
    return ordered;
  }
}

function startsWith(rows: readonly StoredMessage[], prefix: readonly StoredMessage[]): boolean {
  for (let i = 0; i < prefix.length; i += 1) if (rows[i] !== prefix[i]) return false;
  return true;
}

function reorder(messages: readonly StoredMessage[]): StoredMessage[] {
  const present = new Set(messages.map((message) => message.id));
  const dependents = new Map<number, StoredMessage[]>();
  const primaries: StoredMessage[] = [];
  for (const message of messages) {
    const anchor = message.replyToMessageId;
    if (anchor !== null && present.has(anchor) && message.role !== 'user') {
      const list = dependents.get(anchor) ?? [];
      list.push(message);
      dependents.set(anchor, list);
    } else {
      primaries.push(message);
    }
  }
  const ordered: StoredMessage[] = [];
  for (const message of primaries) {
    ordered.push(message);
    const after = dependents.get(message.id);
    if (after !== undefined) ordered.push(...after.sort((a, b) => a.id - b.id));
  }
  return ordered;
}

/**
 * The thread as of the message being answered: everything up to it, plus system messages placed
 * right after it. Later messages get their own answers, in order.
 */
export function threadUpTo(ordered: readonly StoredMessage[], answeringId: number): StoredMessage[] {
  let index = ordered.length - 1;
  // The message being answered is usually among the newest.
  while (index >= 0 && (ordered[index] as StoredMessage).id !== answeringId) index -= 1;
  if (index < 0) return [];
  let end = index + 1;
  while (ordered[end]?.role === 'system') end += 1;
  return ordered.slice(0, end);
}

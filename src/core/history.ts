/**
 * Stored rows → the conversation as the model should read it. Pure.
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
  let head: StoredMessage | undefined;
  let lastDependentId = Number.NEGATIVE_INFINITY;
  for (const message of messages) {
    if (message.replyToMessageId === null || message.role === 'user') {
      head = message;
      lastDependentId = Number.NEGATIVE_INFINITY;
    } else if (message.replyToMessageId === head?.id && message.id > lastDependentId) {
      lastDependentId = message.id;
    } else {
      return false;
    }
  }
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

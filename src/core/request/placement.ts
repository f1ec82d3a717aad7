/** Turns → request messages: rendering each turn's blocks, merging same-role turns, and where system turns may stand. */
import { documentBlock } from '../documents/parts.js';
import { factsOf } from './turns.js';
import type { ContentBlock, HistoryTurn, RequestMessage } from './types.js';

export function omissionNote(count: number): string {
  return `[${count} earlier message${count === 1 ? ' was' : 's were'} left out of this conversation to fit the context window.]`;
}

export function toMessages(ordered: readonly HistoryTurn[], multiAuthor: boolean, omitted: number): RequestMessage[] {
  const messages: RequestMessage[] = [];
  for (const turn of ordered) appendTurn(messages, turn, multiAuthor);
  const first = messages[0];
  const note = omitted > 0 ? omissionNote(omitted) : undefined;
  if (first === undefined || first.role !== 'user') {
    messages.unshift({ role: 'user', content: [{ type: 'text', text: note ?? '(The conversation starts with an earlier message from you.)' }] });
  } else if (note !== undefined) {
    first.content.unshift({ type: 'text', text: note });
  }
  return messages;
}

/** Adds one turn to the messages being built, merging it into the last one when the role is the same. */
export function appendTurn(messages: RequestMessage[], turn: HistoryTurn, multiAuthor: boolean): void {
  const blocks: ContentBlock[] = [];
  if (turn.role === 'user') {
    // Documents first, then images, then the text that asks about them (the order the docs advise).
    for (const document of turn.documents ?? []) blocks.push(documentBlock(document));
    for (const image of turn.images) blocks.push({ type: 'image', source: image.source });
  }
  const facts = factsOf(turn);
  const text = multiAuthor ? facts.named : facts.plain;
  if (text !== '') blocks.push({ type: 'text', text });
  if (blocks.length === 0) return;
  const previous = messages[messages.length - 1];
  // The API would merge consecutive same-role turns anyway; merging here keeps the blocks we send explicit.
  if (previous !== undefined && previous.role === turn.role) previous.content.push(...blocks);
  else messages.push({ role: turn.role, content: blocks });
}

/**
 * Mid-conversation system turns must directly follow a user turn and be last or followed by an
 * assistant turn (§6). One whose answer never got stored (refusal, error) is followed by the next
 * user turn: it moves past those user turns, which merge with the one before it anyway. One that
 * can still not be placed (its user turn was deleted) is dropped rather than sent to a 400.
 */
export function placeSystemTurns(turns: readonly HistoryTurn[]): HistoryTurn[] {
  const result = [...turns];
  for (let i = 0; i < result.length; i += 1) {
    if (result[i]?.role !== 'system') continue;
    let j = i;
    while (result[j + 1]?.role === 'user') {
      [result[j], result[j + 1]] = [result[j + 1] as HistoryTurn, result[j] as HistoryTurn];
      j += 1;
    }
    i = j;
  }
  return result.filter((turn, i) => {
    if (turn.role !== 'system') return true;
    const previous = prevNonSystem(result, i);
    return previous?.role === 'user';
  });
}

export function sameTurns(a: readonly HistoryTurn[], b: readonly HistoryTurn[]): boolean {
  return a === b || (a.length === b.length && a.every((turn, i) => turn === b[i]));
}

function prevNonSystem(turns: readonly HistoryTurn[], index: number): HistoryTurn | undefined {
  for (let i = index - 1; i >= 0; i -= 1) if (turns[i]?.role !== 'system') return turns[i];
  return undefined;
}

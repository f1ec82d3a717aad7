/**
 * A regenerated answer takes the old one's place in the stored history: the first part keeps its
 * row (votes and the thread order point at it) with the new text; parts the new answer no longer
 * has are deleted, new ones recorded. Run inside the answer's transaction.
 */
import type { StoredAnswer } from '../../store/answers.js';
import type { Store } from '../../store/index.js';
import type { StoredMessage } from '../../store/types.js';
import type { PostedIds } from '../types.js';

export async function replaceStoredAnswer(store: Store, old: StoredAnswer, question: StoredMessage, text: string, posted: PostedIds, at: number): Promise<void> {
  const [first, ...rest] = posted;
  if (first === undefined) return;
  const base = {
    conversationId: old.conversationId,
    authorId: 'self',
    authorName: 'threadline',
    authorKind: 'self',
    role: 'assistant',
    createdAt: at,
    replyToMessageId: question.id,
  } as const;
  let firstId = old.id;
  if (first === old.platformMessageIds[0]) {
    await store.messages.edit(old.id, text, at);
  } else {
    // The first message could not be edited (deleted meanwhile): the answer lives in new messages.
    await store.messages.softDelete(old.id, at);
    firstId = (await store.messages.insert({ ...base, platformMessageId: first, text })) ?? old.id;
  }
  const oldParts = new Map(old.platformMessageIds.slice(1).map((id, index) => [id, old.partIds[index] as number]));
  for (const id of rest) {
    if (oldParts.has(id) && firstId === old.id) oldParts.delete(id);
    else await store.messages.insert({ ...base, platformMessageId: id, text: '', replyPartOf: firstId });
  }
  for (const rowId of oldParts.values()) await store.messages.softDelete(rowId, at);
}

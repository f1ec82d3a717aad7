/**
 * Stored threads as a reader sees them: the playground keeps no history of its own, so its
 * sidebar and its threads come back from the store after a reload or a restart.
 */
import type { Store } from '../store/index.js';
import type { StoredMessage } from '../store/types.js';
import { orderThread } from './history.js';
import type { Platform, ThreadEntry, ThreadReader, ThreadRef, ThreadSummary } from './types.js';

const TITLE_CHARS = 60;

export class StoredThreadReader implements ThreadReader {
  constructor(private readonly store: Store) {}

  async listThreads(platform: Platform, workspaceId: string): Promise<ThreadSummary[]> {
    const recent = (await this.store.conversations.recent(platform, 0)).filter(({ conversation }) => conversation.workspaceId === workspaceId);
    const summaries: ThreadSummary[] = [];
    for (const { conversation } of recent) {
      const first = (await this.store.messages.thread(conversation.id)).find((message) => message.role === 'user' && message.deletedAt === null);
      summaries.push({
          thread: { platform, workspaceId, channelId: conversation.channelId, threadKey: conversation.threadKey },
          title: titleOf(first),
        lastActivityAt: conversation.lastActivityAt,
      });
    }
    return summaries.sort((a, b) => b.lastActivityAt - a.lastActivityAt);
  }

  async readThread(thread: ThreadRef): Promise<ThreadEntry[] | undefined> {
    const conversation = await this.store.conversations.find(thread);
    if (conversation === undefined) return undefined;
    const rows = orderThread(await this.store.messages.thread(conversation.id));
    const byId = new Map(rows.map((row) => [row.id, row.platformMessageId]));
    return rows.flatMap((row) => {
      if (row.deletedAt !== null || row.authorKind === 'system' || row.replyPartOf !== null) return [];
      return [
        {
          messageId: row.platformMessageId,
          author: { id: row.authorId, name: row.authorName, kind: row.authorKind },
          text: row.text,
          createdAt: row.createdAt,
          replyTo: row.replyToMessageId === null ? null : (byId.get(row.replyToMessageId) ?? null),
          ...(row.role === 'assistant' && row.replyToMessageId !== null ? { answerId: String(row.replyToMessageId) } : {}),
          attachments: row.attachments.map((attachment) => ({ id: attachment.platformFileId, name: attachment.name, mediaType: attachment.mediaType, url: attachment.url })),
        },
      ];
    });
  }
}

function titleOf(first: StoredMessage | undefined): string {
  // Markdown markers read as noise in a one-line title.
  const text = (first?.text ?? '').replace(/[*_`#>~]+/g, '').replace(/\s+/g, ' ').trim();
  if (text === '') return first?.attachments[0]?.name ?? 'New thread';
  return text.length > TITLE_CHARS ? `${text.slice(0, TITLE_CHARS - 1)}…` : text;
}

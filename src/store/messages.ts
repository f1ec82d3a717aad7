import type { Database } from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { AttachmentKind, NewAttachment, NewMessage, Role, StoredAttachment, StoredAuthorKind, StoredMessage } from './types.js';

interface MessageRow {
  id: number;
  conversation_id: number;
  platform_message_id: string;
  author_id: string;
  author_name: string;
  author_kind: StoredAuthorKind;
  role: Role;
  text: string;
  created_at: number;
  edited_at: number | null;
  deleted_at: number | null;
  reply_to_message_id: number | null;
  reply_part_of: number | null;
}

interface AttachmentRow {
  id: number;
  message_id: number;
  position: number;
  platform_file_id: string;
  name: string;
  kind: AttachmentKind;
  media_type: string | null;
  size: number | null;
  width: number | null;
  height: number | null;
  url: string;
  url_expires_at: number | null;
  anthropic_file_id: string | null;
  text_content: string | null;
  unavailable_reason: string | null;
  page_count: number | null;
}

const toAttachment = (row: AttachmentRow): StoredAttachment => ({
  id: row.id,
  messageId: row.message_id,
  position: row.position,
  platformFileId: row.platform_file_id,
  name: row.name,
  kind: row.kind,
  mediaType: row.media_type,
  size: row.size,
  width: row.width,
  height: row.height,
  url: row.url,
  urlExpiresAt: row.url_expires_at,
  anthropicFileId: row.anthropic_file_id,
  textContent: row.text_content,
  unavailableReason: row.unavailable_reason,
  pageCount: row.page_count,
});

const toMessage = (row: MessageRow, attachments: readonly StoredAttachment[]): StoredMessage => ({
  id: row.id,
  conversationId: row.conversation_id,
  platformMessageId: row.platform_message_id,
  authorId: row.author_id,
  authorName: row.author_name,
  authorKind: row.author_kind,
  role: row.role,
  text: row.text,
  createdAt: row.created_at,
  editedAt: row.edited_at,
  deletedAt: row.deleted_at,
  replyToMessageId: row.reply_to_message_id,
  replyPartOf: row.reply_part_of,
  attachments,
});

/** Conversations whose rows stay in memory; a reply then reads its thread without a query. */
const CACHED_CONVERSATIONS = 64;

export class MessageRepo {
  /**
   * Live messages of recently used conversations, kept in thread order. Inserts append, every
   * other change drops the entry: the next read reloads it.
   */
  private readonly cache = new LRUCache<number, StoredMessage[]>({ max: CACHED_CONVERSATIONS });
  private readonly conversationOf;
  private readonly insertStmt;
  private readonly insertAttachmentStmt;
  private readonly byPlatformId;
  private readonly byId;
  private readonly threadStmt;
  private readonly threadAttachmentsStmt;
  private readonly messageAttachmentsStmt;
  private readonly editStmt;
  private readonly deleteAttachmentsStmt;
  private readonly softDeleteStmt;
  private readonly hasAssistantStmt;
  private readonly refreshUrlStmt;
  private readonly setFileIdStmt;
  private readonly setTextStmt;
  private readonly deleteAllStmt;
  private readonly setUnavailableStmt;
  private readonly setPagesStmt;

  constructor(private readonly db: Database) {
    this.insertStmt = db.prepare<
      [number, string, string, string, string, Role, string, number, number | null, number | null],
      { id: number }
    >(
      `INSERT INTO messages (conversation_id, platform_message_id, author_id, author_name, author_kind, role, text, created_at, reply_to_message_id, reply_part_of)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (conversation_id, platform_message_id) DO NOTHING
       RETURNING id`,
    );
    this.insertAttachmentStmt = db.prepare(
      `INSERT OR IGNORE INTO attachments (message_id, position, platform_file_id, name, kind, media_type, size, width, height, url, url_expires_at)
       VALUES (@messageId, @position, @platformFileId, @name, @kind, @mediaType, @size, @width, @height, @url, @urlExpiresAt)`,
    );
    this.byPlatformId = db.prepare<[number, string], MessageRow>(
      'SELECT * FROM messages WHERE conversation_id = ? AND platform_message_id = ?',
    );
    this.byId = db.prepare<[number], MessageRow>('SELECT * FROM messages WHERE id = ?');
    this.conversationOf = db.prepare<[number], { conversation_id: number }>('SELECT conversation_id FROM messages WHERE id = ?');
    this.threadStmt = db.prepare<[number], MessageRow>(
      'SELECT * FROM messages WHERE conversation_id = ? AND deleted_at IS NULL ORDER BY created_at, id',
    );
    this.threadAttachmentsStmt = db.prepare<[number], AttachmentRow>(
      `SELECT a.* FROM attachments a JOIN messages m ON m.id = a.message_id
        WHERE m.conversation_id = ? AND m.deleted_at IS NULL ORDER BY a.message_id, a.position`,
    );
    this.messageAttachmentsStmt = db.prepare<[number], AttachmentRow>(
      'SELECT * FROM attachments WHERE message_id = ? ORDER BY position',
    );
    this.editStmt = db.prepare<[string, number, number]>('UPDATE messages SET text = ?, edited_at = ? WHERE id = ?');
    this.deleteAttachmentsStmt = db.prepare<[number]>('DELETE FROM attachments WHERE message_id = ?');
    // Deleted content is erased, not just hidden; deleting a reply's first part takes its other parts.
    this.softDeleteStmt = db.prepare<[{ at: number; id: number }]>(
      "UPDATE messages SET deleted_at = @at, text = '' WHERE id = @id OR reply_part_of = @id",
    );
    this.hasAssistantStmt = db.prepare<[number], { found: number }>(
      "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ? AND role = 'assistant') AS found",
    );
    this.refreshUrlStmt = db.prepare<[string, number | null, number]>(
      'UPDATE attachments SET url = ?, url_expires_at = ? WHERE id = ?',
    );
    this.setFileIdStmt = db.prepare<[string, number]>('UPDATE attachments SET anthropic_file_id = ? WHERE id = ?');
    this.setTextStmt = db.prepare<[string, number]>('UPDATE attachments SET text_content = ? WHERE id = ?');
    this.deleteAllStmt = db.prepare<[number]>('DELETE FROM messages WHERE conversation_id = ?');
    this.setUnavailableStmt = db.prepare<[string, number]>('UPDATE attachments SET unavailable_reason = ? WHERE id = ?');
    this.setPagesStmt = db.prepare<[number, number]>('UPDATE attachments SET page_count = ? WHERE id = ?');
  }

  /** Inserts unless the platform id is already stored; returns the new row id or `undefined`. */
  insert(message: NewMessage): number | undefined {
    const row = this.insertStmt.get(
      message.conversationId,
      message.platformMessageId,
      message.authorId,
      message.authorName,
      message.authorKind,
      message.role,
      message.text,
      message.createdAt,
      message.replyToMessageId ?? null,
      message.replyPartOf ?? null,
    );
    if (row === undefined) return undefined;
    const attachments = this.insertAttachments(row.id, message.attachments ?? []);
    this.appendToCache({
      id: row.id,
      conversationId: message.conversationId,
      platformMessageId: message.platformMessageId,
      authorId: message.authorId,
      authorName: message.authorName,
      authorKind: message.authorKind,
      role: message.role,
      text: message.text,
      createdAt: message.createdAt,
      editedAt: null,
      deletedAt: null,
      replyToMessageId: message.replyToMessageId ?? null,
      replyPartOf: message.replyPartOf ?? null,
      attachments,
    });
    return row.id;
  }

  find(conversationId: number, platformMessageId: string): StoredMessage | undefined {
    const row = this.byPlatformId.get(conversationId, platformMessageId);
    return row === undefined ? undefined : toMessage(row, this.messageAttachmentsStmt.all(row.id).map(toAttachment));
  }

  get(id: number): StoredMessage | undefined {
    const row = this.byId.get(id);
    return row === undefined ? undefined : toMessage(row, this.messageAttachmentsStmt.all(row.id).map(toAttachment));
  }

  /** The live (not deleted) messages of a conversation in order, with attachments: from memory, or two queries. */
  thread(conversationId: number): readonly StoredMessage[] {
    const cached = this.cache.get(conversationId);
    if (cached !== undefined) return cached.slice();
    const byMessage = new Map<number, StoredAttachment[]>();
    for (const row of this.threadAttachmentsStmt.all(conversationId)) {
      const list = byMessage.get(row.message_id) ?? [];
      list.push(toAttachment(row));
      byMessage.set(row.message_id, list);
    }
    const messages = this.threadStmt.all(conversationId).map((row) => toMessage(row, byMessage.get(row.id) ?? []));
    this.cache.set(conversationId, messages);
    return messages.slice();
  }

  /** A message of the conversation unless it was deleted; from the cached thread when there is one. */
  live(conversationId: number, id: number): StoredMessage | undefined {
    const cached = this.cache.get(conversationId);
    if (cached !== undefined) {
      // The message being answered is usually among the newest.
      for (let i = cached.length - 1; i >= 0; i -= 1) if ((cached[i] as StoredMessage).id === id) return cached[i];
      return undefined;
    }
    const message = this.get(id);
    return message?.conversationId === conversationId && message.deletedAt === null ? message : undefined;
  }

  /** Deletes every message of a conversation (attachments and jobs go with them). */
  deleteAll(conversationId: number): number {
    this.cache.delete(conversationId);
    return this.deleteAllStmt.run(conversationId).changes;
  }

  /** Drops cached rows: of one conversation, or all (after bulk deletes or a rolled-back transaction). */
  invalidate(conversationId?: number): void {
    if (conversationId === undefined) this.cache.clear();
    else this.cache.delete(conversationId);
  }

  edit(id: number, text: string, editedAt: number, attachments?: readonly NewAttachment[]): void {
    this.invalidateMessage(id);
    this.db.transaction(() => {
      this.editStmt.run(text, editedAt, id);
      if (attachments !== undefined) {
        this.deleteAttachmentsStmt.run(id);
        this.insertAttachments(id, attachments);
      }
    })();
  }

  softDelete(id: number, deletedAt: number): void {
    this.invalidateMessage(id);
    this.db.transaction(() => {
      this.softDeleteStmt.run({ at: deletedAt, id });
      this.deleteAttachmentsStmt.run(id);
    })();
  }

  hasAssistantTurn(conversationId: number): boolean {
    const cached = this.cache.peek(conversationId);
    if (cached !== undefined && cached.some((message) => message.role === 'assistant')) return true;
    return this.hasAssistantStmt.get(conversationId)?.found === 1;
  }

  refreshAttachmentUrl(attachmentId: number, url: string, expiresAt: number | null): void {
    // Rare (once per attachment): simpler to drop every cached thread than to find the one.
    this.cache.clear();
    this.refreshUrlStmt.run(url, expiresAt, attachmentId);
  }

  setAnthropicFileId(attachmentId: number, fileId: string): void {
    // Rare (once per attachment): simpler to drop every cached thread than to find the one.
    this.cache.clear();
    this.setFileIdStmt.run(fileId, attachmentId);
  }

  setAttachmentText(attachmentId: number, text: string): void {
    // Rare (once per attachment): simpler to drop every cached thread than to find the one.
    this.cache.clear();
    this.setTextStmt.run(text, attachmentId);
  }

  setAttachmentUnavailable(attachmentId: number, reason: string): void {
    // Rare (once per attachment): simpler to drop every cached thread than to find the one.
    this.cache.clear();
    this.setUnavailableStmt.run(reason, attachmentId);
  }

  /** A PDF's pages, once its bytes were checked. */
  setDocumentPages(attachmentId: number, pages: number): void {
    // Rare (once per attachment): simpler to drop every cached thread than to find the one.
    this.cache.clear();
    this.setPagesStmt.run(pages, attachmentId);
  }

  private insertAttachments(messageId: number, attachments: readonly NewAttachment[]): StoredAttachment[] {
    return attachments.flatMap((attachment, position) => {
      const result = this.insertAttachmentStmt.run({ messageId, position, ...attachment });
      if (result.changes === 0) return [];
      return [{ ...attachment, id: Number(result.lastInsertRowid), messageId, position, anthropicFileId: null, textContent: null, unavailableReason: null, pageCount: null }];
    });
  }

  private appendToCache(message: StoredMessage): void {
    const cached = this.cache.peek(message.conversationId);
    if (cached === undefined) return;
    // Keep (created_at, id) order; the new row has the highest id, so it goes after every row
    // not newer than it. Usually that is the end; clock skew or a catch-up puts it a few back.
    let index = cached.length;
    while (index > 0 && (cached[index - 1] as StoredMessage).createdAt > message.createdAt) index -= 1;
    cached.splice(index, 0, message);
  }

  private invalidateMessage(id: number): void {
    const row = this.conversationOf.get(id);
    if (row !== undefined) this.cache.delete(row.conversation_id);
  }
}

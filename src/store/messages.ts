import type { SqlExecutor } from './sql/executor.js';
import type { AttachmentKind, NewAttachment, NewMessage, Role, StoredAttachment, StoredAuthorKind, StoredMessage } from './types.js';
import { epochKeys } from './cache-epochs.js';
import { Repo } from './repo.js';
import { ThreadCache } from './thread-cache.js';

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

export class MessageRepo extends Repo {
  /**
   * Live messages of recently used conversations, kept in thread order. Inserts append (other
   * replicas' are fetched by id), every other change drops the entry: the next read reloads it.
   */
  private readonly cache = new ThreadCache(CACHED_CONVERSATIONS);

  /** Inserts unless the platform id is already stored; returns the new row id or `undefined`. */
  async insert(message: NewMessage): Promise<number | undefined> {
    const id = await this.sql.insert(
      `INSERT INTO messages (conversation_id, platform_message_id, author_id, author_name, author_kind, role, text, created_at, reply_to_message_id, reply_part_of)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (conversation_id, platform_message_id) DO NOTHING`,
      [
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
      ],
    );
    if (id === undefined) return undefined;
    const attachments = await insertAttachments(this.sql, id, message.attachments ?? []);
    this.appendToCache({
      id,
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
    return id;
  }

  async find(conversationId: number, platformMessageId: string): Promise<StoredMessage | undefined> {
    const row = await this.sql.get<MessageRow>('SELECT * FROM messages WHERE conversation_id = ? AND platform_message_id = ?', [conversationId, platformMessageId]);
    return row === undefined ? undefined : toMessage(row, await this.attachmentsOf(row.id));
  }

  async get(id: number): Promise<StoredMessage | undefined> {
    const row = await this.sql.get<MessageRow>('SELECT * FROM messages WHERE id = ?', [id]);
    return row === undefined ? undefined : toMessage(row, await this.attachmentsOf(row.id));
  }

  /** The live (not deleted) messages of a conversation in order, with attachments: from memory, or two queries. */
  async thread(conversationId: number): Promise<readonly StoredMessage[]> {
    const cached = this.cache.complete(conversationId);
    if (cached !== undefined) return cached.slice();
    const added = this.cache.takeAdded(conversationId);
    if (added !== undefined) {
      const fetched = await this.addedRows(added.ids).catch((error: unknown) => {
        this.cache.delete(conversationId); // the added ids are lost with the failed read
        throw error;
      });
      return this.cache.merge(conversationId, added.rows, fetched) ? added.rows.slice() : this.thread(conversationId);
    }
    const since = this.epochs.start();
    const byMessage = new Map<number, StoredAttachment[]>();
    const attachmentRows = await this.sql.all<AttachmentRow>(
      `SELECT a.* FROM attachments a JOIN messages m ON m.id = a.message_id
        WHERE m.conversation_id = ? AND m.deleted_at IS NULL ORDER BY a.message_id, a.position`,
      [conversationId],
    );
    for (const row of attachmentRows) {
      const list = byMessage.get(row.message_id) ?? [];
      list.push(toAttachment(row));
      byMessage.set(row.message_id, list);
    }
    const rows = await this.sql.all<MessageRow>('SELECT * FROM messages WHERE conversation_id = ? AND deleted_at IS NULL ORDER BY created_at, id', [conversationId]);
    const messages = rows.map((row) => toMessage(row, byMessage.get(row.id) ?? []));
    // Changed by another replica while loading: the rows are good for this read, not for the cache.
    if (this.epochs.unchanged(epochKeys.messages(conversationId), since)) this.cache.set(conversationId, messages);
    return messages.slice();
  }

  /** A message of the conversation unless it was deleted; from the cached thread when there is one. */
  async live(conversationId: number, id: number): Promise<StoredMessage | undefined> {
    const cached = this.cache.complete(conversationId);
    if (cached !== undefined) {
      // The message being answered is usually among the newest.
      for (let i = cached.length - 1; i >= 0; i -= 1) if ((cached[i] as StoredMessage).id === id) return cached[i];
      return undefined;
    }
    const message = await this.get(id);
    return message?.conversationId === conversationId && message.deletedAt === null ? message : undefined;
  }

  /** Deletes every message of a conversation (attachments and jobs go with them). */
  async deleteAll(conversationId: number): Promise<number> {
    this.cache.delete(conversationId);
    return this.sql.run('DELETE FROM messages WHERE conversation_id = ?', [conversationId]);
  }

  /** Message `messageId` (or attachments of it) was inserted by another replica, or missed by the cached thread: the next read fetches it. */
  fetchOnNextRead = (conversationId: number, messageId: number): void => this.cache.fetchOnNextRead(conversationId, messageId);
  hasCached = (conversationId: number, messageId: number): boolean => this.cache.has(conversationId, messageId);

  /** Drops cached rows: of one conversation, or all (after bulk deletes or a rolled-back transaction). */
  invalidate(conversationId?: number): void {
    if (conversationId === undefined) this.cache.clear();
    else this.cache.delete(conversationId);
  }

  async edit(id: number, text: string, editedAt: number, attachments?: readonly NewAttachment[]): Promise<void> {
    await this.changeMessage(id, async (sql) => {
      await sql.run('UPDATE messages SET text = ?, edited_at = ? WHERE id = ?', [text, editedAt, id]);
      if (attachments !== undefined) {
        await sql.run('DELETE FROM attachments WHERE message_id = ?', [id]);
        await insertAttachments(sql, id, attachments);
      }
    });
  }

  async softDelete(id: number, deletedAt: number): Promise<void> {
    await this.changeMessage(id, async (sql) => {
      // Deleted content is erased, not just hidden; deleting a reply's first part takes its other parts.
      await sql.run("UPDATE messages SET deleted_at = ?, text = '' WHERE id = ? OR reply_part_of = ?", [deletedAt, id, id]);
      await sql.run('DELETE FROM attachments WHERE message_id = ?', [id]);
    });
  }

  async hasAssistantTurn(conversationId: number): Promise<boolean> {
    const cached = this.cache.peek(conversationId);
    // Rows only ever go missing from it by a drop: an assistant row in it is there.
    if (cached !== undefined && cached.some((message) => message.role === 'assistant')) return true;
    return (await this.sql.get("SELECT 1 AS found FROM messages WHERE conversation_id = ? AND role = 'assistant' LIMIT 1", [conversationId])) !== undefined;
  }

  // What the bot learns of an attachment is written rarely (once per attachment): simpler to
  // drop every cached thread than to find the one.

  async refreshAttachmentUrl(attachmentId: number, url: string, expiresAt: number | null): Promise<void> {
    this.cache.clear();
    await this.sql.run('UPDATE attachments SET url = ?, url_expires_at = ? WHERE id = ?', [url, expiresAt, attachmentId]);
  }

  async setAnthropicFileId(attachmentId: number, fileId: string): Promise<void> {
    this.cache.clear();
    await this.sql.run('UPDATE attachments SET anthropic_file_id = ? WHERE id = ?', [fileId, attachmentId]);
  }

  async setAttachmentText(attachmentId: number, text: string): Promise<void> {
    this.cache.clear();
    await this.sql.run('UPDATE attachments SET text_content = ? WHERE id = ?', [text, attachmentId]);
  }

  async setAttachmentUnavailable(attachmentId: number, reason: string): Promise<void> {
    this.cache.clear();
    await this.sql.run('UPDATE attachments SET unavailable_reason = ? WHERE id = ?', [reason, attachmentId]);
  }

  /** A PDF's pages, once its bytes were checked. */
  async setDocumentPages(attachmentId: number, pages: number): Promise<void> {
    this.cache.clear();
    await this.sql.run('UPDATE attachments SET page_count = ? WHERE id = ?', [pages, attachmentId]);
  }

  /** Live rows by id with their attachments (PostgreSQL only: ids come from other replicas' notifications). */
  private async addedRows(ids: readonly number[]): Promise<StoredMessage[]> {
    const list = `{${ids.join(',')}}`;
    const attachments = await this.sql.all<AttachmentRow>('SELECT * FROM attachments WHERE message_id = ANY(?::bigint[]) ORDER BY message_id, position', [list]);
    const rows = await this.sql.all<MessageRow>('SELECT * FROM messages WHERE id = ANY(?::bigint[]) AND deleted_at IS NULL', [list]);
    return rows.map((row) => toMessage(row, attachments.filter((attachment) => attachment.message_id === row.id).map(toAttachment)));
  }

  private async attachmentsOf(messageId: number): Promise<StoredAttachment[]> {
    return (await this.sql.all<AttachmentRow>('SELECT * FROM attachments WHERE message_id = ? ORDER BY position', [messageId])).map(toAttachment);
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

  /**
   * Changes one message atomically and drops its conversation's cached thread, before and after:
   * a read between the two (another reply, on PostgreSQL) must not keep the old rows.
   */
  private async changeMessage(id: number, change: (sql: SqlExecutor) => Promise<void>): Promise<void> {
    const row = await this.sql.get<{ conversation_id: number }>('SELECT conversation_id FROM messages WHERE id = ?', [id]);
    if (row !== undefined) this.cache.delete(row.conversation_id);
    try {
      await this.sql.transaction(change);
    } finally {
      if (row !== undefined) this.cache.delete(row.conversation_id);
    }
  }
}

async function insertAttachments(sql: SqlExecutor, messageId: number, attachments: readonly NewAttachment[]): Promise<StoredAttachment[]> {
  const stored: StoredAttachment[] = [];
  for (const [position, attachment] of attachments.entries()) {
    const id = await sql.insert(
      `INSERT INTO attachments (message_id, position, platform_file_id, name, kind, media_type, size, width, height, url, url_expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id, platform_file_id) DO NOTHING`,
      [messageId, position, attachment.platformFileId, attachment.name, attachment.kind, attachment.mediaType, attachment.size, attachment.width, attachment.height, attachment.url, attachment.urlExpiresAt],
    );
    if (id !== undefined) stored.push({ ...attachment, id, messageId, position, anthropicFileId: null, textContent: null, unavailableReason: null, pageCount: null });
  }
  return stored;
}

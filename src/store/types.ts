/** Rows as the rest of the program sees them (camelCase, no SQL types leaking out). */
import type { Platform } from '../core/types.js';

export interface Conversation {
  readonly id: number;
  readonly platform: Platform;
  readonly workspaceId: string;
  readonly channelId: string;
  readonly threadKey: string;
  readonly createdAt: number;
  readonly lastActivityAt: number;
  readonly systemPrompt: string | null;
  readonly instructionsRev: number;
  readonly backfilled: boolean;
}

export type Role = 'user' | 'assistant' | 'system';
export type StoredAuthorKind = 'user' | 'bot' | 'self' | 'system';
/** `document`: a PDF, sent as a document block. Word files are `text` (converted to text). */
export type AttachmentKind = 'image' | 'document' | 'text' | 'other';

/** An attachment as stored: what the platform said of it, and what the bot has learned since. */
export interface StoredAttachment extends NewAttachment {
  readonly id: number;
  readonly messageId: number;
  readonly position: number;
  readonly anthropicFileId: string | null;
  /** A text attachment's content, read once. */
  readonly textContent: string | null;
  /** Why the attachment cannot be shown (too large, not an image, download failed), once known. */
  readonly unavailableReason: string | null;
  /** A PDF's page count once its bytes were checked (`%PDF-`): null before, 0 when the count could not be read. */
  readonly pageCount: number | null;
}

export interface StoredMessage {
  readonly id: number;
  readonly conversationId: number;
  readonly platformMessageId: string;
  readonly authorId: string;
  readonly authorName: string;
  readonly authorKind: StoredAuthorKind;
  readonly role: Role;
  readonly text: string;
  readonly createdAt: number;
  readonly editedAt: number | null;
  readonly deletedAt: number | null;
  readonly replyToMessageId: number | null;
  readonly replyPartOf: number | null;
  readonly attachments: readonly StoredAttachment[];
}

export interface NewAttachment {
  readonly platformFileId: string;
  readonly name: string;
  readonly kind: AttachmentKind;
  readonly mediaType: string | null;
  readonly size: number | null;
  readonly width: number | null;
  readonly height: number | null;
  readonly url: string;
  readonly urlExpiresAt: number | null;
}

export interface NewMessage {
  readonly conversationId: number;
  readonly platformMessageId: string;
  readonly authorId: string;
  readonly authorName: string;
  readonly authorKind: StoredAuthorKind;
  readonly role: Role;
  readonly text: string;
  readonly createdAt: number;
  readonly replyToMessageId?: number | null;
  readonly replyPartOf?: number | null;
  readonly attachments?: readonly NewAttachment[];
}

export interface InstructionChange {
  readonly id: number;
  readonly channelId: string;
  readonly text: string | null;
  readonly authorId: string;
  readonly authorName: string;
  readonly createdAt: number;
}

export interface SettingChange {
  readonly id: number;
  readonly channelId: string;
  readonly key: string;
  /** `null` records a clear. */
  readonly value: string | null;
  /** History only: the key's value in the scope before this change (`null`: unset or cleared). */
  readonly previous?: string | null;
  readonly authorId: string;
  readonly authorName: string;
  readonly createdAt: number;
}

export type JobState = 'pending' | 'running' | 'done' | 'failed' | 'dropped';

export interface ReplyJob {
  readonly id: number;
  readonly messageId: number;
  readonly conversationId: number;
  readonly state: JobState;
  readonly attempts: number;
  readonly createdAt: number;
}

export interface UsageRecord {
  readonly conversationId: number | null;
  readonly platform: Platform;
  readonly workspaceId: string;
  readonly channelId: string;
  readonly userId: string;
  readonly model: string;
  readonly requestId: string | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheCreationTokens: number;
  /** Server tool calls billed for the reply (`usage.server_tool_use`); absent means none. */
  readonly webSearchRequests?: number;
  readonly webFetchRequests?: number;
  readonly stopReason: string | null;
  readonly createdAt: number;
}

/**
 * Attachments of a thread → what the request carries: image blocks (URL, Files API id or
 * base64), PDF document blocks (documents/document-resolver.ts), inlined text and Word files,
 * and short notes for everything the model cannot see. It
 * refreshes expiring signed URLs in one batch, downloads private files with the platform's
 * credentials, checks types by magic bytes, and remembers results (file ids, text, reasons) in
 * the store so later turns send identical blocks without asking the platform again.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import type { StoredAttachment, StoredMessage } from '../store/types.js';
import type { ImagePart, ImageSource } from './request/types.js';
import { attachmentNote, formatSize, isWordFile } from './attachments.js';
import { DocumentResolver } from './documents/document-resolver.js';
import { docxToText, isZip } from './documents/docx.js';
import { unreadableTypeNote } from './documents/kinds.js';
import type { DocumentPart } from './documents/parts.js';
import type { ModelClient } from './model-client.js';
import { IMAGE_LIMITS } from './models.js';
import type { Platform, PlatformServices } from './types.js';

/** base64 inflates by 4/3: a 10 MB encoded limit is 7.5 MB of bytes. */
export const MAX_IMAGE_BYTES = Math.floor((IMAGE_LIMITS.maxBase64Bytes * 3) / 4);
export const DEFAULT_TEXT_ATTACHMENT_BYTES = 100_000;
const REFRESH_MARGIN_MS = 10 * 60 * 1000;
/** A Word file is a ZIP of XML: its download may be larger than the text it holds. */
const MAX_DOCX_BYTES = 10 * 1024 * 1024;

export type Resolution = { readonly image: ImagePart } | { readonly document: DocumentPart } | { readonly note: string; readonly userNote?: string };

export interface ResolvedThread {
  /** By attachment id. */
  readonly byAttachment: ReadonlyMap<number, Resolution>;
  /** Sentences for the user about the message being answered (images that could not be used). */
  readonly userNotes: readonly string[];
}

export interface AttachmentPipelineOptions {
  readonly store: Store;
  readonly model: Pick<ModelClient, 'uploadFile'>;
  readonly logger: Logger;
  readonly now: () => number;
  readonly textAttachmentMaxBytes?: number;
}

export function sniffImageType(bytes: Uint8Array): string | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 16));
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (b.length >= 6 && /^GIF8[79]a$/.test(b.subarray(0, 6).toString('latin1'))) return 'image/gif';
  if (b.length >= 12 && b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return undefined;
}

export class AttachmentPipeline {
  private readonly textMaxBytes: number;
  private readonly documents: DocumentResolver;

  constructor(private readonly options: AttachmentPipelineOptions) {
    this.textMaxBytes = options.textAttachmentMaxBytes ?? DEFAULT_TEXT_ATTACHMENT_BYTES;
    this.documents = new DocumentResolver(options);
  }

  async resolveThread(
    platform: Platform,
    services: PlatformServices | undefined,
    messages: readonly StoredMessage[],
    currentMessageId: number,
  ): Promise<ResolvedThread> {
    const attachments: StoredAttachment[] = [];
    // Runs over the whole thread every reply, and most messages have no attachments: no spread for those.
    for (const message of messages) if (message.role === 'user' && message.attachments.length > 0) attachments.push(...message.attachments);
    const byAttachment = new Map<number, Resolution>();
    const userNotes: string[] = [];
    if (attachments.length === 0) return { byAttachment, userNotes };
    const refreshed = await this.refreshExpiring(services, attachments);
    for (const message of messages) {
      if (message.role !== 'user') continue;
      for (const stored of message.attachments) {
        const attachment = refreshed.get(stored.id) ?? stored;
        const resolution = await this.resolveOne(platform, services, attachment);
        byAttachment.set(stored.id, resolution);
        if (message.id === currentMessageId && 'note' in resolution && resolution.userNote !== undefined) userNotes.push(resolution.userNote);
      }
    }
    return { byAttachment, userNotes };
  }

  /**
   * The API could not fetch an image URL after all: download it ourselves and upload it once
   * (later turns then send the same file id), or record why it cannot be shown.
   */
  async replaceUnreachable(services: PlatformServices | undefined, attachment: StoredAttachment): Promise<void> {
    const log = this.options.logger.child({ attachment: attachment.name });
    if (attachment.kind === 'document') return this.documents.replaceUnreachable(services, attachment, log);
    const image = await this.downloadImage(services, attachment, log);
    if ('reason' in image) {
      await this.options.store.messages.setAttachmentUnavailable(attachment.id, image.reason);
      return;
    }
    const fileId = await this.upload(image.bytes, attachment.name, image.mediaType, log);
    if (fileId === undefined) await this.options.store.messages.setAttachmentUnavailable(attachment.id, 'the image could not be downloaded');
    else await this.options.store.messages.setAnthropicFileId(attachment.id, fileId);
  }

  private async refreshExpiring(services: PlatformServices | undefined, attachments: readonly StoredAttachment[]): Promise<Map<number, StoredAttachment>> {
    const result = new Map<number, StoredAttachment>();
    if (services?.refreshUrls === undefined) return result;
    const deadline = this.options.now() + REFRESH_MARGIN_MS;
    // Only links that are past or near expiry: changing a still-valid URL would change the prompt prefix.
    const expiring = attachments.filter(
      (a) => a.kind !== 'other' && a.anthropicFileId === null && a.unavailableReason === null && a.urlExpiresAt !== null && a.urlExpiresAt <= deadline,
    );
    if (expiring.length === 0) return result;
    let fresh: ReadonlyMap<string, { url: string; expiresAt: number | null }>;
    try {
      fresh = await services.refreshUrls([...new Set(expiring.map((a) => a.url))]);
    } catch (error) {
      this.options.logger.warn({ err: error, count: expiring.length }, 'could not refresh attachment URLs');
      fresh = new Map();
    }
    for (const attachment of expiring) {
      const next = fresh.get(attachment.url);
      if (next === undefined) continue;
      await this.options.store.messages.refreshAttachmentUrl(attachment.id, next.url, next.expiresAt);
      result.set(attachment.id, { ...attachment, url: next.url, urlExpiresAt: next.expiresAt });
    }
    return result;
  }

  private async resolveOne(platform: Platform, services: PlatformServices | undefined, attachment: StoredAttachment): Promise<Resolution> {
    const log = this.options.logger.child({ platform, attachment: attachment.name });
    if (attachment.unavailableReason !== null) return unavailable(attachment, attachment.unavailableReason);
    if (attachment.kind === 'other') return unavailable(attachment, unreadableTypeNote(attachment.name, attachment.mediaType));
    if (attachment.kind === 'text') return this.resolveText(services, attachment, log);
    if (attachment.kind === 'document') {
      const document = await this.documents.resolve(services, attachment, log);
      if ('document' in document) return document;
      return document.permanent ? this.remember(attachment, document.reason) : unavailable(attachment, document.reason);
    }

    const dims = { name: attachment.name, width: attachment.width, height: attachment.height };
    if (attachment.size !== null && attachment.size > MAX_IMAGE_BYTES) {
      return this.remember(attachment, `it is ${formatSize(attachment.size)}, over the ${formatSize(MAX_IMAGE_BYTES)} limit for images`);
    }
    if (Math.max(attachment.width ?? 0, attachment.height ?? 0) > IMAGE_LIMITS.maxSidePx) {
      return this.remember(attachment, `it is larger than ${IMAGE_LIMITS.maxSidePx} px on a side`);
    }
    if (attachment.anthropicFileId !== null) return { image: { ...dims, source: { type: 'file', file_id: attachment.anthropicFileId } } };
    if (services?.urlsArePublic === true) {
      if (attachment.urlExpiresAt !== null && attachment.urlExpiresAt <= this.options.now()) {
        return unavailable(attachment, 'its link has expired and could not be refreshed');
      }
      return { image: { ...dims, source: { type: 'url', url: attachment.url } } };
    }
    const image = await this.downloadImage(services, attachment, log);
    if ('reason' in image) return image.permanent ? this.remember(attachment, image.reason) : unavailable(attachment, image.reason);
    const fileId = await this.upload(image.bytes, attachment.name, image.mediaType, log);
    if (fileId !== undefined) {
      await this.options.store.messages.setAnthropicFileId(attachment.id, fileId);
      return { image: { ...dims, source: { type: 'file', file_id: fileId } } };
    }
    const source: ImageSource = { type: 'base64', media_type: image.mediaType, data: Buffer.from(image.bytes).toString('base64') };
    return { image: { ...dims, source } };
  }

  private async downloadImage(
    services: PlatformServices | undefined,
    attachment: StoredAttachment,
    log: Logger,
  ): Promise<{ bytes: Uint8Array; mediaType: string } | { reason: string; permanent: boolean }> {
    if (services?.download === undefined) return { reason: 'the image could not be downloaded', permanent: false };
    let downloaded: { bytes: Uint8Array; contentType: string | null };
    try {
      downloaded = await services.download(attachment.url, MAX_IMAGE_BYTES);
    } catch (error) {
      log.warn({ err: error }, 'image download failed');
      const message = error instanceof Error ? error.message : '';
      if (/limit/.test(message)) return { reason: `it is over the ${formatSize(MAX_IMAGE_BYTES)} limit for images`, permanent: true };
      return { reason: 'the image could not be downloaded', permanent: false };
    }
    const contentType = downloaded.contentType?.split(';')[0]?.trim().toLowerCase() ?? null;
    if (contentType === 'text/html') {
      log.warn('image download returned an HTML page (a sign-in page: missing files:read scope or token?)');
      return { reason: 'the platform returned a web page instead of the image (the bot may lack access to the file)', permanent: false };
    }
    const sniffed = sniffImageType(downloaded.bytes);
    if (sniffed === undefined) return { reason: 'the file is not a JPEG, PNG, GIF or WebP image', permanent: true };
    return { bytes: downloaded.bytes, mediaType: sniffed };
  }

  private async upload(bytes: Uint8Array, name: string, mediaType: string, log: Logger): Promise<string | undefined> {
    try {
      return await this.options.model.uploadFile(bytes, name, mediaType);
    } catch (error) {
      log.warn({ err: error }, 'Files API upload failed; sending the image inline');
      return undefined;
    }
  }

  private async resolveText(services: PlatformServices | undefined, attachment: StoredAttachment, log: Logger): Promise<Resolution> {
    if (attachment.textContent !== null) return { note: inlineText(attachment, attachment.textContent) };
    if (isWordFile(attachment)) return this.resolveWord(services, attachment, log);
    if (attachment.size !== null && attachment.size > this.textMaxBytes) {
      return this.remember(attachment, `text files over ${formatSize(this.textMaxBytes)} are not read`);
    }
    if (services?.download === undefined) return { note: attachmentNote(attachment, 'the file could not be read') };
    try {
      const { bytes } = await services.download(attachment.url, this.textMaxBytes);
      const text = Buffer.from(bytes).toString('utf8');
      if (text.includes('\u0000')) return this.remember(attachment, 'it is not a text file');
      await this.options.store.messages.setAttachmentText(attachment.id, text);
      return { note: inlineText(attachment, text) };
    } catch (error) {
      log.warn({ err: error }, 'text attachment download failed');
      return { note: attachmentNote(attachment, 'the file could not be read') };
    }
  }

  /** A .docx as text, up to the text size cap (a note says where it was cut). */
  private async resolveWord(services: PlatformServices | undefined, attachment: StoredAttachment, log: Logger): Promise<Resolution> {
    if (attachment.size !== null && attachment.size > MAX_DOCX_BYTES) {
      return this.remember(attachment, `Word files over ${formatSize(MAX_DOCX_BYTES)} are not read`);
    }
    if (services?.download === undefined) return unavailable(attachment, 'the file could not be read');
    let bytes: Uint8Array;
    try {
      ({ bytes } = await services.download(attachment.url, MAX_DOCX_BYTES));
    } catch (error) {
      log.warn({ err: error }, 'Word file download failed');
      return unavailable(attachment, 'the file could not be downloaded');
    }
    if (!isZip(bytes)) return this.remember(attachment, 'it is not a Word (.docx) file, whatever its name says');
    let text: string;
    try {
      text = await docxToText(bytes);
    } catch (error) {
      log.warn({ err: error }, 'Word file could not be converted');
      return this.remember(attachment, 'the Word file could not be read');
    }
    const cut = cutToBytes(text, this.textMaxBytes);
    const stored = cut === text ? text : `${cut}\n[… cut here: the document's text is ${formatSize(Buffer.byteLength(text))}, over the ${formatSize(this.textMaxBytes)} read from a file]`;
    await this.options.store.messages.setAttachmentText(attachment.id, stored);
    return { note: inlineText(attachment, stored) };
  }

  /** A reason that will not change (size, type): stored, so the file is not fetched again. */
  private async remember(attachment: StoredAttachment, reason: string): Promise<Resolution> {
    await this.options.store.messages.setAttachmentUnavailable(attachment.id, reason);
    return unavailable(attachment, reason);
  }
}

function unavailable(attachment: StoredAttachment, reason: string): Resolution {
  return { note: attachmentNote(attachment, reason), userNote: `I couldn't look at ${attachment.name}: ${reason}.` };
}

/** The longest prefix of `text` within `maxBytes` of UTF-8, never splitting a character. */
function cutToBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  return Buffer.from(text).subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
}

function inlineText(attachment: StoredAttachment, text: string): string {
  const fence = text.includes('```') ? '~~~~' : '```';
  return `[attached file ${attachment.name}]\n${fence}\n${text}\n${fence}`;
}

/**
 * A stored PDF attachment → its document block, or a note saying why the model cannot see it.
 * The bytes are read once (magic, encryption, pages) and what was learned is stored, so later
 * turns send the same block without asking the platform again: Discord's signed links go as
 * `url` sources (the API downloads them); private files (Slack) go to the Files API once and are
 * sent by `file_id` ever after, or inline as base64 when the upload fails.
 */
import type { Logger } from 'pino';
import type { Store } from '../../store/index.js';
import type { StoredAttachment } from '../../store/types.js';
import { formatSize } from '../attachments.js';
import type { ModelClient } from '../model-client.js';
import type { PlatformServices } from '../types.js';
import type { DocumentPart } from './parts.js';
import { MAX_PDF_BYTES, countPdfPages, isEncryptedPdf, isPdf } from './pdf.js';

export type DocumentResolution = { readonly document: DocumentPart } | { readonly reason: string; readonly permanent: boolean };

type Downloaded = { readonly bytes: Uint8Array } | { readonly reason: string; readonly permanent: boolean };

export interface DocumentResolverOptions {
  readonly store: Store;
  readonly model: Pick<ModelClient, 'uploadFile'>;
  readonly now: () => number;
}

export class DocumentResolver {
  constructor(private readonly options: DocumentResolverOptions) {}

  async resolve(services: PlatformServices | undefined, attachment: StoredAttachment, log: Logger): Promise<DocumentResolution> {
    if (attachment.size !== null && attachment.size > MAX_PDF_BYTES) {
      return { reason: `it is ${formatSize(attachment.size)}, over the ${formatSize(MAX_PDF_BYTES)} limit for PDFs`, permanent: true };
    }
    const part = (source: DocumentPart['source'], pages: number | null): DocumentResolution => ({ document: { name: attachment.name, source, pages } });
    if (attachment.anthropicFileId !== null) return part({ type: 'file', file_id: attachment.anthropicFileId }, attachment.pageCount);

    let bytes: Uint8Array | undefined;
    let pages = attachment.pageCount;
    if (pages === null) {
      // Not checked yet: read it once, so a sign-in page or a mislabelled file never reaches the API.
      const downloaded = await this.download(services, attachment, log);
      if ('reason' in downloaded) return downloaded;
      bytes = downloaded.bytes;
      pages = countPdfPages(bytes) ?? 0;
      await this.options.store.messages.setDocumentPages(attachment.id, pages);
    }
    const known = pages === 0 ? null : pages;
    if (services?.urlsArePublic === true) {
      if (attachment.urlExpiresAt !== null && attachment.urlExpiresAt <= this.options.now()) {
        return { reason: 'its link has expired and could not be refreshed', permanent: false };
      }
      return part({ type: 'url', url: attachment.url }, known);
    }
    if (bytes === undefined) {
      const downloaded = await this.download(services, attachment, log);
      if ('reason' in downloaded) return downloaded;
      bytes = downloaded.bytes;
    }
    const fileId = await this.upload(bytes, attachment.name, log);
    if (fileId !== undefined) {
      await this.options.store.messages.setAnthropicFileId(attachment.id, fileId);
      return part({ type: 'file', file_id: fileId }, known);
    }
    return part({ type: 'base64', media_type: 'application/pdf', data: Buffer.from(bytes).toString('base64') }, known);
  }

  /**
   * The API could not download a PDF's URL after all: fetch it ourselves and upload it once
   * (later turns then send the same file id), or record why it cannot be shown.
   */
  async replaceUnreachable(services: PlatformServices | undefined, attachment: StoredAttachment, log: Logger): Promise<void> {
    const downloaded = await this.download(services, attachment, log);
    if ('reason' in downloaded) {
      await this.options.store.messages.setAttachmentUnavailable(attachment.id, downloaded.reason);
      return;
    }
    const fileId = await this.upload(downloaded.bytes, attachment.name, log);
    if (fileId === undefined) await this.options.store.messages.setAttachmentUnavailable(attachment.id, 'the document could not be downloaded');
    else await this.options.store.messages.setAnthropicFileId(attachment.id, fileId);
  }

  private async download(services: PlatformServices | undefined, attachment: StoredAttachment, log: Logger): Promise<Downloaded> {
    if (services?.download === undefined) return { reason: 'the document could not be downloaded', permanent: false };
    let downloaded: { bytes: Uint8Array; contentType: string | null };
    try {
      downloaded = await services.download(attachment.url, MAX_PDF_BYTES);
    } catch (error) {
      log.warn({ err: error }, 'document download failed');
      const message = error instanceof Error ? error.message : '';
      if (/limit/.test(message)) return { reason: `it is over the ${formatSize(MAX_PDF_BYTES)} limit for PDFs`, permanent: true };
      return { reason: 'the document could not be downloaded', permanent: false };
    }
    const contentType = downloaded.contentType?.split(';')[0]?.trim().toLowerCase() ?? null;
    if (!isPdf(downloaded.bytes)) {
      if (contentType === 'text/html' || /^\s*</.test(Buffer.from(downloaded.bytes.subarray(0, 64)).toString('latin1'))) {
        log.warn('document download returned a web page (a sign-in page: missing files:read scope or token?)');
        return { reason: 'the platform returned a web page instead of the file (the bot may lack access to it)', permanent: false };
      }
      return { reason: 'the file is not a PDF, whatever its name or type says', permanent: true };
    }
    if (isEncryptedPdf(downloaded.bytes)) return { reason: 'it is an encrypted (password-protected) PDF', permanent: true };
    return { bytes: downloaded.bytes };
  }

  private async upload(bytes: Uint8Array, name: string, log: Logger): Promise<string | undefined> {
    try {
      return await this.options.model.uploadFile(bytes, name, 'application/pdf');
    } catch (error) {
      log.warn({ err: error }, 'Files API upload failed; sending the document inline');
      return undefined;
    }
  }
}

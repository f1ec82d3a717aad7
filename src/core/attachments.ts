/**
 * Platform attachments → what the model gets: image blocks for the four image types the API
 * reads, document blocks for PDFs, text for text and Word files, and a short note for anything
 * else so the model knows the file exists.
 */
import type { NewAttachment, StoredAttachment } from '../store/types.js';
import { DOCX_MEDIA_TYPE } from './documents/docx.js';
import { IMAGE_LIMITS } from './models.js';
import type { AttachmentInput } from './types.js';

const IMAGE_EXTENSIONS: Record<string, string> = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp' };
const TEXT_EXTENSIONS = new Set(['txt', 'md', 'markdown', 'csv', 'tsv', 'json', 'yaml', 'yml', 'xml', 'log', 'ts', 'tsx', 'js', 'jsx', 'mjs', 'py', 'rb', 'go', 'rs', 'java', 'kt', 'c', 'h', 'cpp', 'cs', 'php', 'sh', 'sql', 'toml', 'ini', 'html', 'css']);

export function extension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** The media type to trust: the declared one, else the one the file name implies. */
export function effectiveMediaType(attachment: Pick<AttachmentInput, 'mediaType' | 'name'>): string | null {
  const declared = attachment.mediaType?.split(';')[0]?.trim().toLowerCase();
  if (declared) return declared;
  return IMAGE_EXTENSIONS[extension(attachment.name)] ?? null;
}

/** A Word (.docx) file, by its media type or its name: read as text (converted with mammoth). */
export function isWordFile(attachment: Pick<AttachmentInput, 'mediaType' | 'name'>): boolean {
  return effectiveMediaType(attachment) === DOCX_MEDIA_TYPE || extension(attachment.name) === 'docx';
}

export function classify(attachment: Pick<AttachmentInput, 'mediaType' | 'name'>): NewAttachment['kind'] {
  const type = effectiveMediaType(attachment);
  if (type !== null && IMAGE_LIMITS.supportedMediaTypes.includes(type)) return 'image';
  const ext = extension(attachment.name);
  if (type === 'application/pdf' || ext === 'pdf') return 'document';
  // Word files are read as text (converted with mammoth): the API takes no Word documents.
  if (isWordFile(attachment)) return 'text';
  if ((type !== null && (type.startsWith('text/') || type === 'application/json')) || TEXT_EXTENSIONS.has(ext)) return 'text';
  return 'other';
}

export function toNewAttachment(attachment: AttachmentInput): NewAttachment {
  return {
    platformFileId: attachment.id,
    name: attachment.name,
    kind: classify(attachment),
    mediaType: effectiveMediaType(attachment),
    size: attachment.size,
    width: attachment.width ?? null,
    height: attachment.height ?? null,
    url: attachment.url,
    urlExpiresAt: attachment.urlExpiresAt ?? null,
  };
}

export function formatSize(bytes: number | null): string {
  if (bytes === null) return 'unknown size';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function attachmentNote(attachment: StoredAttachment, reason: string): string {
  return `[attachment ${attachment.name} (${attachment.mediaType ?? 'unknown type'}, ${formatSize(attachment.size)}) not shown: ${reason}]`;
}

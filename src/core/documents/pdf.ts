/**
 * What the bot checks in a PDF's bytes before sending it as a document block: that it is one
 * (`%PDF-`, so a sign-in page or a mislabelled file becomes a note instead of a 400), that it is
 * not encrypted (the API refuses those), and how many pages it has (a request may carry 100 or
 * 600 pages, §13 of the API rules).
 */
import { inflateSync } from 'node:zlib';
import type { ModelRules } from '../models.js';

/** §13: per-request limits for PDFs; the request limit is §1's. */
export const DOCUMENT_LIMITS = {
  maxRequestBytes: 32 * 1024 * 1024,
  /** Pages per request on models whose context window is under 1M tokens. */
  maxPagesSmallContext: 100,
  maxPagesLargeContext: 600,
  /**
   * Each page is its text (typically 1,500–3,000 tokens) plus the page as an image: erring high,
   * so the context budget is not overrun by a long PDF.
   */
  tokensPerPage: 3_000,
  /** When the page count could not be read from the file. */
  assumedPages: 10,
} as const;

/** Base64 inflates by 4/3; the PDF still has to fit a 32 MB request with the rest of the thread. */
export const MAX_PDF_BYTES = 24 * 1024 * 1024;

export function maxDocumentPages(rules: Pick<ModelRules, 'contextWindowTokens'>): number {
  return rules.contextWindowTokens >= 1_000_000 ? DOCUMENT_LIMITS.maxPagesLargeContext : DOCUMENT_LIMITS.maxPagesSmallContext;
}

/** The PDF header may follow a little junk (the spec allows it within the first 1024 bytes). */
export function isPdf(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 1024)).toString('latin1');
  return head.includes('%PDF-');
}

export function isEncryptedPdf(bytes: Uint8Array): boolean {
  // The trailer names the encryption dictionary; it sits near the end of the file.
  const tail = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).subarray(Math.max(0, bytes.byteLength - 4096)).toString('latin1');
  return /\/Encrypt\s+\d+\s+\d+\s+R/.test(tail) || /trailer[\s\S]*\/Encrypt\b/.test(tail);
}

/**
 * Pages of a PDF: its page objects, or else the largest `/Count` of a page tree, looked for in
 * the file and in its compressed object streams (PDF 1.5+ keeps most objects there). Null when
 * neither is readable; callers then assume a count.
 */
export function countPdfPages(bytes: Uint8Array): number | null {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const texts = [buffer.toString('latin1'), ...objectStreams(buffer)];
  const pages = texts.reduce((sum, text) => sum + (text.match(/\/Type\s*\/Page(?![A-Za-z])/g)?.length ?? 0), 0);
  if (pages > 0) return pages;
  let count = 0;
  for (const text of texts) {
    for (const match of text.matchAll(/\/Type\s*\/Pages[\s\S]{0,200}?\/Count\s+(\d+)/g)) count = Math.max(count, Number(match[1]));
  }
  return count > 0 ? count : null;
}

/** The inflated contents of the file's Flate-compressed object streams (`/Type /ObjStm`). */
function objectStreams(buffer: Buffer): string[] {
  const text = buffer.toString('latin1');
  const found: string[] = [];
  for (const match of text.matchAll(/(?<!end)stream\r?\n/g)) {
    const start = (match.index ?? 0) + match[0].length;
    const dictionary = text.slice(Math.max(0, text.lastIndexOf(' obj', match.index)), match.index);
    if (!/\/Type\s*\/ObjStm/.test(dictionary) || !/\/FlateDecode/.test(dictionary)) continue;
    const end = text.indexOf('endstream', start);
    if (end < 0) break;
    try {
      found.push(inflateSync(buffer.subarray(start, end)).toString('latin1'));
    } catch {
      // A damaged stream only means fewer pages found; the count errs by the assumed default.
    }
  }
  return found;
}

export function estimateDocumentTokens(pages: number | null): number {
  return (pages ?? DOCUMENT_LIMITS.assumedPages) * DOCUMENT_LIMITS.tokensPerPage;
}

/**
 * What one request may carry of a thread's images and PDFs (§1, §7, §13 of the API rules), kept
 * newest first: the newest attachments are the ones people ask about, so the message being
 * answered keeps its files whenever the rules allow them at all, and older ones give way with a
 * note in their turn (the model knows they exist and why it cannot see them).
 *
 * Rules, per request: images at most `maxImages` and none over 8000 px; more than 20 images only
 * when every one is at most 2000 px a side; PDFs at most 100 or 600 pages together; inline
 * (base64) data, images and PDFs together, at most 24 MB of the 32 MB request. And PDFs, which
 * cost thousands of tokens a page, only up to `documentTokens` together, so a long PDF cannot
 * push a request past the context window (a 400 no retry could cure).
 */
import type { HistoryTurn, ImagePart } from './request/types.js';
import { DOCUMENT_LIMITS, estimateDocumentTokens, maxDocumentPages } from './documents/pdf.js';
import type { DocumentPart } from './documents/parts.js';
import { IMAGE_LIMITS, type ModelRules } from './models.js';

export interface OmittedAttachment {
  readonly name: string;
  /** Index of its turn in the turns given. */
  readonly turnIndex: number;
}

export interface LimitedTurns {
  readonly turns: HistoryTurn[];
  /** Oldest first. */
  readonly omitted: readonly OmittedAttachment[];
}

type Entry =
  | { readonly kind: 'image'; readonly turnIndex: number; readonly index: number; readonly part: ImagePart }
  | { readonly kind: 'document'; readonly turnIndex: number; readonly index: number; readonly part: DocumentPart };

/** Bytes of base64 an attachment adds to the request body (URL and Files API sources add next to none). */
export function inlineSize(part: ImagePart | DocumentPart): number {
  return part.source.type === 'base64' ? part.source.data.length : 0;
}

const side = (image: ImagePart) => Math.max(image.width ?? 0, image.height ?? 0);

export function limitAttachments(
  turns: HistoryTurn[],
  rules: Pick<ModelRules, 'maxImages' | 'contextWindowTokens'>,
  documentTokens = Number.POSITIVE_INFINITY,
): LimitedTurns {
  const entries: Entry[] = [];
  turns.forEach((turn, turnIndex) => {
    turn.images.forEach((part, index) => entries.push({ kind: 'image', turnIndex, index, part }));
    (turn.documents ?? []).forEach((part, index) => entries.push({ kind: 'document', turnIndex, index, part }));
  });
  const pageLimit = maxDocumentPages(rules);
  const drop = new Map<Entry, string>();
  let images = 0;
  let largeImages = 0;
  let pages = 0;
  let pageTokens = 0;
  let inlineBytes = 0;
  for (let i = entries.length - 1; i >= 0; i -= 1) {
    const entry = entries[i] as Entry;
    const inline = inlineSize(entry.part);
    if (inline > 0 && inlineBytes + inline > IMAGE_LIMITS.maxInlineBytesPerRequest) {
      drop.set(entry, `the request can carry only ${IMAGE_LIMITS.maxInlineBytesPerRequest / 1024 / 1024} MB of inline images and documents, newest first`);
      continue;
    }
    if (entry.kind === 'document') {
      const count = entry.part.pages ?? DOCUMENT_LIMITS.assumedPages;
      if (pages + count > pageLimit) {
        drop.set(entry, count > pageLimit ? `it has ${count} pages; a request can carry at most ${pageLimit}` : `a request can carry at most ${pageLimit} PDF pages, newest first`);
        continue;
      }
      const tokens = estimateDocumentTokens(entry.part.pages);
      if (pageTokens + tokens > documentTokens) {
        drop.set(entry, `it does not fit in the context window together with the rest of the conversation${pages > 0 ? ' and newer documents' : ''}`);
        continue;
      }
      pages += count;
      pageTokens += tokens;
    } else {
      const reason = imageRejection(entry.part, images, largeImages, rules.maxImages);
      if (reason !== undefined) {
        drop.set(entry, reason);
        continue;
      }
      images += 1;
      if (side(entry.part) > IMAGE_LIMITS.manyImagesMaxSidePx) largeImages += 1;
    }
    inlineBytes += inline;
  }
  if (drop.size === 0) return { turns, omitted: [] };

  const omitted: OmittedAttachment[] = [];
  const byTurn = new Map<number, Entry[]>();
  for (const entry of entries) if (drop.has(entry)) byTurn.set(entry.turnIndex, [...(byTurn.get(entry.turnIndex) ?? []), entry]);
  const limited = turns.map((turn, turnIndex) => {
    const dropped = byTurn.get(turnIndex);
    if (dropped === undefined) return turn;
    const notes = [...turn.notes];
    for (const entry of dropped) {
      omitted.push({ name: entry.part.name, turnIndex });
      notes.push(`[${entry.kind === 'image' ? 'image' : 'document'} ${entry.part.name} not shown: ${drop.get(entry) as string}]`);
    }
    const isDropped = (kind: Entry['kind'], index: number) => dropped.some((entry) => entry.kind === kind && entry.index === index);
    const documents = (turn.documents ?? []).filter((_, index) => !isDropped('document', index));
    return { ...turn, images: turn.images.filter((_, index) => !isDropped('image', index)), ...(turn.documents === undefined ? {} : { documents }), notes };
  });
  return { turns: limited, omitted };
}

/**
 * Why an image cannot join the newer ones already kept, if it cannot. More than 20 images are
 * allowed only when all are at most 2000 px, so an older image never pushes a newer, larger one
 * out: past 20 it joins only if it is small and every newer one is too.
 */
function imageRejection(image: ImagePart, kept: number, keptLarge: number, maxImages: number): string | undefined {
  if (side(image) > IMAGE_LIMITS.maxSidePx) return `larger than ${IMAGE_LIMITS.maxSidePx} px on a side`;
  if (kept >= maxImages) return `only the newest ${maxImages} images are sent`;
  if (kept + 1 > IMAGE_LIMITS.manyImagesThreshold && (keptLarge > 0 || side(image) > IMAGE_LIMITS.manyImagesMaxSidePx)) {
    return `a request with more than ${IMAGE_LIMITS.manyImagesThreshold} images may only carry images up to ${IMAGE_LIMITS.manyImagesMaxSidePx} px a side, so only the newest ${IMAGE_LIMITS.manyImagesThreshold} are sent`;
  }
  return undefined;
}

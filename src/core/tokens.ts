/**
 * Token estimates for the context budget, without a network call per reply. They err high: a
 * request estimated under the budget must also be under the model's context window, or the
 * thread would answer 400 on every reply until it is forgotten.
 *
 * Characters per token differ by script far more than by language: English prose and code run
 * about 4 (counted as 3.5), scripts of two UTF-8 bytes (accented Latin, Greek, Cyrillic, Hebrew,
 * Arabic) about 2, and those of three (CJK, Hangul, Thai, Devanagari) about 1. A character
 * outside the BMP (an emoji) is two UTF-16 units, so it counts as two tokens.
 */
import type { ImagePart } from './request/types.js';

const IMAGE_TOKENS_UNKNOWN = 1600;
const IMAGE_TOKENS_MAX = 4784;

/** Costs in fourteenths of a token, so that sums stay exact integers: 3.5, 2 and 1 units a token. */
const SCALE = 14;
function unitCost(code: number): number {
  if (code < 0x80) return 4;
  if (code < 0x800) return 7;
  return 14;
}

export function estimateTextTokens(text: string): number {
  let cost = 0;
  for (let i = 0; i < text.length; i += 1) cost += unitCost(text.charCodeAt(i));
  return Math.ceil(cost / SCALE);
}

/** How many UTF-16 units of `text`, from its start, fit in `tokens` (never splitting a surrogate pair). */
export function prefixWithinTokens(text: string, tokens: number): number {
  const room = tokens * SCALE;
  let used = 0;
  let end = 0;
  while (end < text.length) {
    used += unitCost(text.charCodeAt(end));
    if (used > room) break;
    end += 1;
  }
  const last = text.charCodeAt(end - 1);
  return end > 0 && last >= 0xd800 && last <= 0xdbff ? end - 1 : end;
}

/** Image tokens as §7 computes them (`ceil(w/28)·ceil(h/28)`, capped), or a typical figure when the size is unknown. */
export function estimateImageTokens(image: Pick<ImagePart, 'width' | 'height'>): number {
  if (image.width === null || image.height === null) return IMAGE_TOKENS_UNKNOWN;
  return Math.min(Math.ceil(image.width / 28) * Math.ceil(image.height / 28), IMAGE_TOKENS_MAX);
}

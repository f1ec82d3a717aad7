/**
 * Long replies → platform-sized parts. Splits at the last paragraph break that fits, else the
 * last line break, else the last space, else hard (never inside a surrogate pair). A part that
 * ends inside a fenced code block is closed with ``` and the next part reopens the fence with
 * the same info string (```ts), so every part renders on its own.
 *
 * Invariant: removing the added fence lines (the closing ``` appended to a part and the opening
 * ```lang prepended to the next) and joining the parts with the whitespace dropped at each split
 * point gives back the input; every part has at most `limit` code points and balanced fences.
 */

const FENCE = /^ {0,3}(```+|~~~+)(.*)$/;

export function codePointLength(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) i += 1;
    count += 1;
  }
  return count;
}

/** UTF-16 index after `points` code points. */
function indexAfterCodePoints(text: string, points: number): number {
  let index = 0;
  for (let seen = 0; seen < points && index < text.length; seen += 1) {
    const code = text.charCodeAt(index);
    index += code >= 0xd800 && code <= 0xdbff && index + 1 < text.length ? 2 : 1;
  }
  return index;
}

interface OpenFence {
  readonly marker: string;
  readonly opening: string;
}

/** The fence still open at the end of `text` (if any), scanning line by line. */
export function openFenceAtEnd(text: string, initial: OpenFence | null = null): OpenFence | null {
  let open = initial;
  for (const line of text.split('\n')) {
    const match = FENCE.exec(line);
    if (match === null) continue;
    const marker = match[1] as string;
    if (open === null) open = { marker, opening: line.trimStart() };
    else if (marker.startsWith(open.marker[0] as string) && marker.length >= open.marker.length && (match[2] ?? '').trim() === '') open = null;
  }
  return open;
}

export function hasBalancedFences(text: string): boolean {
  return openFenceAtEnd(text) === null;
}

export function splitMessage(text: string, limit: number): string[] {
  if (limit < 20) throw new RangeError('limit must be at least 20 code points');
  const parts: string[] = [];
  let rest = text;
  let reopen: OpenFence | null = null;
  while (rest.trim() !== '') {
    const prefix = reopen === null ? '' : `${reopen.opening}\n`;
    const body = prefix + rest;
    if (codePointLength(body) <= limit) {
      parts.push(body.replace(/\s+$/, ''));
      break;
    }
    // Leave room for a closing fence line in case the cut lands inside a code block.
    let budget = limit - 4;
    let cut = 0;
    let part = '';
    let openAfter: OpenFence | null = null;
    for (let attempt = 0; attempt < 4; attempt += 1) {
      cut = chooseCut(body, indexAfterCodePoints(body, budget), prefix.length);
      part = body.slice(0, cut).replace(/\s+$/, '');
      openAfter = openFenceAtEnd(part);
      const closing = openAfter === null ? '' : `\n${openAfter.marker}`;
      if (codePointLength(part + closing) <= limit) {
        part += closing;
        break;
      }
      budget -= codePointLength(closing) + 1;
    }
    parts.push(part);
    // Outside code the whitespace at a split point carries nothing; inside code, indentation does.
    rest = openAfter === null ? body.slice(cut).replace(/^\s+/, '') : body.slice(cut).replace(/^\n+/, '');
    reopen = openAfter;
  }
  return parts.filter((part) => part.trim() !== '');
}

/** Where to cut `text` at or before `max` (UTF-16 index): paragraph, line, space, else hard. */
function chooseCut(text: string, max: number, minimum: number): number {
  const window = text.slice(0, max);
  const floor = Math.max(minimum + 1, Math.floor(max / 3));
  for (const separator of ['\n\n', '\n', ' ']) {
    const at = window.lastIndexOf(separator);
    if (at >= floor) return at + separator.length;
  }
  // Hard cut, but never between the halves of a surrogate pair.
  const code = text.charCodeAt(max - 1);
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
}

/**
 * Model Markdown → what Discord renders well. Discord takes most Markdown as is; tables do not
 * render (they become an aligned code block) and headings deeper than ### are not headings.
 * Mass pings are defused in the text as well as by `allowedMentions`.
 */

import type { Source, ToolActivity } from '../../core/types.js';
import { activityLine as webToolActivityLine } from '../../core/web-tools/activity.js';

const FENCE_SPLIT = /(```[\s\S]*?(?:```|$))/g;

export function toDiscordMarkdown(markdown: string): string {
  return markdown
    .split(FENCE_SPLIT)
    .map((piece, index) => (index % 2 === 1 ? piece : convertProse(piece)))
    .join('');
}

function convertProse(prose: string): string {
  const lines = prose.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const table = readTable(lines, i);
    if (table !== undefined) {
      out.push('```', ...renderTable(table.rows), '```');
      i = table.end - 1;
      continue;
    }
    const line = lines[i] as string;
    const deepHeading = /^#{4,6}\s+(.*)$/.exec(line);
    out.push(deepHeading ? `**${deepHeading[1]}**` : defusePings(line));
  }
  return out.join('\n');
}

function defusePings(line: string): string {
  return line.replace(/@(everyone|here)\b/g, '@\u200B$1');
}

function cells(line: string): string[] | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('|') && !trimmed.includes(' | ')) return undefined;
  const inner = trimmed.replace(/^\|/, '').replace(/\|$/, '');
  return inner.split('|').map((cell) => cell.trim());
}

function readTable(lines: readonly string[], start: number): { rows: string[][]; end: number } | undefined {
  const header = cells(lines[start] ?? '');
  const separator = lines[start + 1]?.trim() ?? '';
  if (header === undefined || !/^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$/.test(separator)) return undefined;
  const rows = [header];
  let end = start + 2;
  for (; end < lines.length; end += 1) {
    const row = cells(lines[end] as string);
    if (row === undefined || (lines[end] as string).trim() === '') break;
    rows.push(row);
  }
  return { rows, end };
}

function renderTable(rows: readonly string[][]): string[] {
  const columns = Math.max(...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...rows.map((row) => [...(row[c] ?? '')].length)));
  const render = (row: readonly string[]) => row.map((cell, c) => cell.padEnd(widths[c] as number)).join(' | ').trimEnd();
  const [head, ...body] = rows;
  return [render(head as string[]), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(render)];
}

/** The progress line while a web tool runs. */
export function activityLine(activity: ToolActivity): string {
  return `${activity.kind === 'search' ? '🔎' : '📖'} ${webToolActivityLine(activity)}`;
}

/**
 * The answer and its numbered source list. `<url>` inside the link keeps Discord from embedding
 * a preview of each source; mentions are never parsed from bot posts anyway.
 */
export function withDiscordSources(text: string, sources: readonly Source[]): string {
  if (sources.length === 0) return text;
  const lines = sources.map((source, i) => `${i + 1}. [${source.title}](<${source.url.replace(/>/g, '%3E')}>)`);
  return `${text.trimEnd()}\n\nSources:\n${lines.join('\n')}`;
}

/**
 * Model Markdown → Slack mrkdwn, for places the `markdown` block is not used (fallback text,
 * chat.update). Code is never touched; ping syntax is always defused.
 */

import type { Source, ToolActivity } from '../../core/types.js';
import { activityPhrase } from '../../core/web-tools/activity.js';

const CODE_SPLIT = /(```[\s\S]*?(?:```|$)|`[^`\n]+`)/g;

/** Escapes Slack's control characters in plain text. */
function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function convertProse(prose: string): string {
  const links: string[] = [];
  // Links first, out of the way of escaping: [label](url) → <url|label>.
  let text = prose.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, (_m, label: string, url: string) => {
    links.push(`<${url}|${escapeText(label).replace(/\|/g, '¦')}>`);
    return `\u0000${links.length - 1}\u0000`;
  });
  text = escapeText(text);
  text = text
    .split('\n')
    .map((line) => {
      const heading = /^#{1,6}\s+(.*)$/.exec(line);
      if (heading) return `\u0001${(heading[1] as string).replace(/\*\*/g, '')}\u0001`;
      return line.replace(/^(\s*)[-*+]\s+/, '$1• ').replace(/^(\s*)&gt;\s?/, '$1> ');
    })
    .join('\n');
  text = text
    .replace(/\*\*\*(.+?)\*\*\*/g, '\u0001_$1_\u0001')
    .replace(/\*\*(.+?)\*\*/g, '\u0001$1\u0001')
    .replace(/__(.+?)__/g, '\u0001$1\u0001')
    .replace(/(^|[^*\w])\*(?!\s)([^*\n]+?)\*(?!\w)/g, '$1_$2_')
    .replace(/~~(.+?)~~/g, '~$1~')
    .replace(/\u0001/g, '*');
  return text.replace(/\u0000(\d+)\u0000/g, (_m, index: string) => links[Number(index)] as string);
}

export function toSlackMrkdwn(markdown: string): string {
  const out = markdown
    .split(CODE_SPLIT)
    .map((piece, index) => {
      if (index % 2 === 0) return convertProse(piece);
      // Slack ignores a language tag after ``` and would show it as text.
      return piece.startsWith('```') ? piece.replace(/^```[^\n`]*\n/, '```\n') : piece;
    })
    .join('');
  return neutralizeSlackPings(out);
}

/**
 * Model text must never ping a channel or group: `<!here>`, `<!channel>`, `<!everyone>`,
 * `<!subteam^…>` and their bare `@here` forms are defused with a zero-width space.
 */
export function neutralizeSlackPings(text: string): string {
  return text
    .replace(/<!(here|channel|everyone)(\|[^>]*)?>/gi, '@\u200B$1')
    .replace(/<!subteam\^([A-Z0-9]+)(?:\|([^>]*))?>/gi, (_m, id: string, label?: string) => `@\u200B${label ?? id}`)
    .replace(/&lt;!(here|channel|everyone)&gt;/gi, '@\u200B$1')
    .replace(/(^|[^\w\u200B])@(here|channel|everyone)\b/gi, '$1@\u200B$2');
}

/** The assistant status while a web tool runs ("<app> is searching the web…"). */
export function activityStatus(activity: ToolActivity): string {
  return `is ${activityPhrase(activity)}…`;
}

/**
 * The answer and its numbered source list as Markdown links, which the `markdown` block shows as
 * links and the mrkdwn fallback turns into `<url|title>`; answers are posted with unfurling off.
 */
export function withSlackSources(text: string, sources: readonly Source[]): string {
  if (sources.length === 0) return text;
  const lines = sources.map((source, i) => `${i + 1}. [${source.title}](${source.url.replace(/\)/g, '%29').replace(/\s/g, '%20')})`);
  return `${text.trimEnd()}\n\nSources:\n${lines.join('\n')}`;
}

/**
 * Slack's message markup → plain text for the model: user mentions become names (the bot's own
 * mention disappears), channel and link markup becomes readable, HTML entities are decoded.
 * Whitespace is left alone except around the removed mention: pasted code keeps its indentation.
 */

/** Marks where the bot's own mention stood, so only the gap it leaves is tidied. */
const GAP = '\u0000';

export async function decodeSlackText(text: string, botUserId: string, nameOf: (userId: string) => Promise<string>): Promise<string> {
  const ids = [...new Set([...text.matchAll(/<@([UW][A-Z0-9]+)(?:\|[^>]*)?>/g)].map((m) => m[1] as string))].filter((id) => id !== botUserId);
  const names = new Map(await Promise.all(ids.map(async (id) => [id, await nameOf(id)] as const)));
  return text
    .replaceAll(GAP, '')
    .replace(/<@([UW][A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, label?: string) => (id === botUserId ? GAP : `@${names.get(id) ?? label ?? id}`))
    .replace(/<#([CG][A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, name?: string) => `#${name || id}`)
    .replace(/<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>/g, (_m, label?: string) => label ?? '@group')
    .replace(/<!(here|channel|everyone)(?:\|[^>]*)?>/g, '@$1')
    .replace(/<!date\^\d+\^[^|>]*\|([^>]*)>/g, '$1')
    .replace(/<(https?:\/\/[^|>]+)\|([^>]+)>/g, (_m, url: string, label: string) => (label === url ? url : `${label} (${url})`))
    .replace(/<(mailto:[^|>]+)\|([^>]+)>/g, '$2')
    .replace(/<(https?:\/\/[^>]+)>/g, '$1')
    .replace(/(^|\n)[ \t]*\u0000[ \t]*/g, '$1')
    .replace(/[ \t]*\u0000(?=[,.:;!?])/g, '')
    .replace(/[ \t]*\u0000[ \t]*/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/^(?:[ \t]*\n)+/, '')
    .trimEnd();
}

/** Playground input → what the core expects: participant ids and mentions of the bot. */

export const BOT_NAME = 'threadline';
const MENTION = /(^|\s)@threadline\b[,:]?/gi;

/** One id per name, case-insensitive: "Ann" and "ann" are one person, as a platform account would be. */
export function participantId(name: string): string {
  return `web:${name.trim().toLowerCase()}`;
}

/**
 * As on the platforms, `@threadline` in a message addresses the bot and is taken out of the text
 * the model reads. Starting a thread is asking the bot, so a thread's first message addresses it
 * with or without the mention; later ones follow the core's follow-up rule.
 */
export function inboundText(raw: string, startsThread: boolean): { text: string; mentionsBot: boolean } {
  const mentioned = raw.match(MENTION) !== null;
  const text = mentioned ? raw.replace(MENTION, '$1').replace(/[ \t]{2,}/g, ' ').trim() : raw.trim();
  return { text, mentionsBot: mentioned || startsThread };
}

/**
 * The top-level system prompt: a fixed base (who the bot is, where it is, how to format) under
 * the admins' instructions, server/workspace first, then channel. No timestamps or other
 * per-request values: the prompt must stay byte-identical so the cache keeps hitting.
 */
import type { Platform } from './types.js';

export interface EffectiveInstructions {
  readonly workspace: string | null;
  readonly channel: string | null;
  /** Id of the newest instruction change in either scope (0 when none was ever made). */
  readonly rev: number;
}

const PLATFORM_FORMATTING: Record<Platform, string> = {
  discord:
    'You are in a Discord conversation. Discord renders Markdown: **bold**, *italics*, `code`, fenced code blocks with a language tag, lists, > quotes and headings up to ###. Tables do not render, so use lists or a code block instead. Long answers are split into several messages automatically.',
  slack:
    'You are in a Slack conversation. Write standard Markdown (bold, italics, `code`, fenced code blocks, lists, links); it is converted for Slack. Avoid tables and deep heading levels. Long answers are split into several messages automatically.',
  web: 'You are in a web chat (threadline\'s local playground). It renders standard Markdown: bold, italics, `code`, fenced code blocks, lists, tables, links.',
};

export function basePrompt(platform: Platform): string {
  return [
    'You are threadline, a helpful assistant that people bring into their team chat by mentioning you.',
    PLATFORM_FORMATTING[platform],
    'Several people may take part in one conversation. When more than one person speaks, each of their messages starts with the speaker\'s display name and a colon; use names when it helps to address someone. Earlier replies in the conversation are yours.',
    'Images and files posted in the conversation are shown to you where possible; notes in square brackets describe attachments you cannot see.',
    'Be direct and concise: chat readers skim. Never mention @everyone, @here or @channel.',
    'When you have web search or web fetch, use them for fresh facts and for links people post. A numbered list of the pages you cite is added under your answer automatically (the "Sources:" lists under your earlier replies came from there), so never write one yourself.',
  ].join('\n\n');
}

export function instructionsSection(instructions: EffectiveInstructions): string {
  const parts: string[] = [];
  if (instructions.workspace !== null) parts.push(`Instructions from this server's administrators:\n${instructions.workspace}`);
  if (instructions.channel !== null) parts.push(`Instructions for this channel (they add to the ones above):\n${instructions.channel}`);
  return parts.join('\n\n');
}

export function buildSystemPrompt(platform: Platform, instructions: EffectiveInstructions): string {
  const section = instructionsSection(instructions);
  return section === '' ? basePrompt(platform) : `${basePrompt(platform)}\n\n${section}`;
}

/** Text of a mid-conversation system message announcing changed instructions. */
export function instructionsUpdateMessage(instructions: EffectiveInstructions): string {
  const section = instructionsSection(instructions);
  return section === ''
    ? 'The administrators have removed their instructions for this conversation. From now on, follow only your base instructions.'
    : `The administrators have changed the instructions for this conversation. From now on, these replace the earlier ones:\n\n${section}`;
}

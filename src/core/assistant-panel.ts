/**
 * Slack's assistant panel (Agents & AI Apps), platform-free: what a new assistant thread shows
 * (a greeting and suggested prompts), the channel its user is looking at (stored per thread and
 * told to the model with each answer), and whether the thread still needs its title.
 */
import type { ClaudeRequest } from './request/types.js';
import type { Store } from '../store/index.js';
import type { Conversation } from '../store/types.js';
import type { ThreadRef } from './types.js';

/** Prompts a new assistant thread suggests; the lead wires this to `/settings` (`prompts`). */
export type SuggestedPromptsSource = (thread: ThreadRef) => readonly string[] | Promise<readonly string[]>;

export interface SuggestedPrompt {
  readonly title: string;
  readonly message: string;
}

export interface ViewedChannel {
  readonly id: string;
  /** How to name it to the model, e.g. `#design-review`. */
  readonly label: string;
}

export const DEFAULT_SUGGESTED_PROMPTS: readonly string[] = [
  'Summarize the channel I am looking at',
  'Help me write a clear reply',
  'Explain this in simpler terms',
  'Brainstorm ideas with me',
];

export const ASSISTANT_GREETING = 'Hi! Ask me anything, or pick one of the suggestions below. I can see which channel you are looking at.';

/** Slack shows at most 4 suggested prompts; titles are short. */
const MAX_PROMPTS = 4;
const TITLE_CHARS = 40;
const THREAD_TITLE_CHARS = 80;

export class AssistantPanel {
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly prompts: SuggestedPromptsSource = () => DEFAULT_SUGGESTED_PROMPTS,
  ) {}

  async started(thread: ThreadRef, viewing: ViewedChannel | null): Promise<{ greeting: string; prompts: SuggestedPrompt[] }> {
    await this.contextChanged(thread, viewing);
    const configured = (await this.prompts(thread)).map((text) => text.trim()).filter((text) => text !== '');
    const texts = (configured.length > 0 ? configured : DEFAULT_SUGGESTED_PROMPTS).slice(0, MAX_PROMPTS);
    return { greeting: ASSISTANT_GREETING, prompts: texts.map((message) => ({ title: shorten(message, TITLE_CHARS), message })) };
  }

  async contextChanged(thread: ThreadRef, viewing: ViewedChannel | null): Promise<void> {
    await this.store.answers.setAssistantContext(thread.platform, thread.workspaceId, thread.threadKey, viewing?.id ?? null, viewing?.label ?? null, this.now());
  }

  /** The title for an assistant thread's first question; undefined for every later one and outside the panel. */
  async titleFor(thread: ThreadRef, question: string): Promise<string | undefined> {
    const title = shorten(question.replace(/\s+/g, ' ').trim(), THREAD_TITLE_CHARS);
    if (title === '') return undefined;
    return (await this.store.answers.markTitled(thread.platform, thread.workspaceId, thread.threadKey, this.now())) ? title : undefined;
  }

  /**
   * The channel the user is looking at in this conversation's panel, read once per reply (the
   * request may be built more than once). Only Slack has the panel: elsewhere no row can exist,
   * and no query is made (on PostgreSQL each would be a round trip per reply).
   */
  async viewedChannel(conversation: Conversation): Promise<ViewedChannel | undefined> {
    if (conversation.platform !== 'slack') return undefined;
    const row = await this.store.answers.assistantThread(conversation.platform, conversation.workspaceId, conversation.threadKey);
    return row?.contextChannelId == null ? undefined : { id: row.contextChannelId, label: row.contextLabel ?? row.contextChannelId };
  }

  /**
   * The request with the viewed channel told to the model, after the question being answered.
   * Only the newest turn changes, so the cached prefix of earlier turns stays.
   */
  withViewedChannel(request: ClaudeRequest, viewing: ViewedChannel | undefined): ClaudeRequest {
    if (viewing === undefined) return request;
    // The question is the last user turn (a mid-conversation system message may follow it).
    const index = request.messages.findLastIndex((message) => message.role === 'user');
    const last = request.messages[index];
    if (last === undefined) return request;
    const note = {
      type: 'text' as const,
      text: `[Slack assistant panel: while asking this, the user is looking at the channel ${viewing.label} (id ${viewing.id}).]`,
    };
    const messages = [...request.messages];
    messages[index] = { ...last, content: [...last.content, note] };
    return { ...request, messages };
  }
}

function shorten(text: string, limit: number): string {
  const chars = [...text];
  return chars.length <= limit ? text : `${chars.slice(0, limit - 1).join('').trimEnd()}…`;
}

/**
 * Slack's assistant panel (Agents & AI Apps): a new assistant thread gets a greeting and
 * suggested prompts, the channel its user is looking at is handed to the core (stored per
 * thread; Bolt's own context store keeps one for all threads), and the thread is titled from its
 * first question. Answers in the panel are ordinary `message.im` events; the reply sink shows
 * the "is thinking…" status while answering.
 */
import type { App, webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { ViewedChannel } from '../../core/assistant-panel.js';
import type { ChatCore, ThreadRef } from '../../core/types.js';
import { threadRef } from './inbound.js';

interface AssistantThreadEvent {
  assistant_thread?: {
    user_id?: string;
    channel_id?: string;
    thread_ts?: string;
    context?: { channel_id?: string; team_id?: string; enterprise_id?: string };
  };
}

export interface AssistantPanelDeps {
  readonly core: ChatCore;
  readonly logger: Logger;
  readonly team: () => string;
}

export function registerAssistantPanel(app: App, deps: AssistantPanelDeps): void {
  const { core, logger } = deps;

  const threadOf = (event: AssistantThreadEvent, body: unknown): { thread: ThreadRef; channel: string; threadTs: string } | undefined => {
    const at = event.assistant_thread;
    if (at?.channel_id === undefined || at.thread_ts === undefined) return undefined;
    const team = at.context?.team_id ?? (body as { team_id?: string }).team_id ?? deps.team();
    return { thread: threadRef(team, at.channel_id, { ts: at.thread_ts, thread_ts: at.thread_ts }), channel: at.channel_id, threadTs: at.thread_ts };
  };

  // The work runs after the listener returns, so the event is acked at once.
  const later = (what: string, work: () => Promise<void>) => {
    void work().catch((error: unknown) => logger.warn({ err: error }, `assistant panel: ${what} failed`));
  };

  app.event('assistant_thread_started', async ({ event, body, client }) => {
    const where = threadOf(event as AssistantThreadEvent, body);
    if (where === undefined) return;
    later('greeting', async () => {
      const viewing = await viewedChannel(client, (event as AssistantThreadEvent).assistant_thread?.context?.channel_id);
      const { greeting, prompts } = await core.assistantThreadStarted(where.thread, viewing);
      await client.assistant.threads.setSuggestedPrompts({ channel_id: where.channel, thread_ts: where.threadTs, title: 'Try one of these:', prompts: [...prompts] as never });
      await client.chat.postMessage({ channel: where.channel, thread_ts: where.threadTs, text: greeting });
    });
  });

  app.event('assistant_thread_context_changed', async ({ event, body, client }) => {
    const where = threadOf(event as AssistantThreadEvent, body);
    if (where === undefined) return;
    later('context change', async () => {
      await core.assistantContextChanged(where.thread, await viewedChannel(client, (event as AssistantThreadEvent).assistant_thread?.context?.channel_id));
    });
  });
}

/** A question in a DM thread: the first one of an assistant thread names it. */
export function titleAssistantThread(client: webApi.WebClient, core: ChatCore, thread: ThreadRef, question: string, logger: Logger): void {
  const [channel, threadTs] = thread.threadKey.split(':') as [string, string];
  core
    .assistantTitle(thread, question)
    .then((title) => (title === undefined ? undefined : client.assistant.threads.setTitle({ channel_id: channel, thread_ts: threadTs, title })))
    .catch((error: unknown) => logger.warn({ err: error }, 'could not set the assistant thread title'));
}

async function viewedChannel(client: webApi.WebClient, channelId: string | undefined): Promise<ViewedChannel | null> {
  if (channelId === undefined || channelId === '') return null;
  try {
    const info = await client.conversations.info({ channel: channelId });
    const name = (info.channel as { name?: string } | undefined)?.name;
    return { id: channelId, label: name === undefined ? `<#${channelId}>` : `#${name}` };
  } catch {
    // Not a channel the bot is in: the id still tells the model (and the user) which one.
    return { id: channelId, label: channelId };
  }
}

/** `/usage` and `/forget`, and pruning past the retention period: the admin side of the stored conversations. */
import type { CommandReply } from '../instructions.js';
import type { ConversationRequests } from '../request/conversation-requests.js';
import type { ThreadRef, UsageCommand } from '../types.js';
import { formatUsage } from '../usage-report.js';
import { ChatPart, type ChatContext } from './context.js';
import { DAY_MS } from '../durations.js';

export class AdminCommands extends ChatPart {
  constructor(
    context: ChatContext,
    private readonly requests: ConversationRequests,
  ) {
    super(context);
  }

  async runUsageCommand(command: UsageCommand): Promise<CommandReply> {
    if (!command.actor.isAdmin) {
      this.logger.warn({ platform: command.platform, user: command.actor.id }, 'refused /usage from a non-admin');
      return { ok: false, text: 'Only admins can see usage.' };
    }
    const since = this.now() - command.days * DAY_MS;
    return formatUsage(
      command,
      await this.store.usage.report(command.platform, command.workspaceId, since, 'channel'),
      await this.store.usage.report(command.platform, command.workspaceId, since, 'user'),
      await this.store.answers.counts(command.platform, command.workspaceId, since),
    );
  }

  async forgetThread(thread: ThreadRef, actor: { readonly id: string; readonly isAdmin: boolean }): Promise<CommandReply> {
    if (!actor.isAdmin) {
      this.logger.warn({ platform: thread.platform, user: actor.id }, 'refused /forget from a non-admin');
      return { ok: false, text: 'Only admins can make me forget a thread.' };
    }
    await this.store.syncCaches();
    const conversation = await this.store.conversations.find(thread);
    if (conversation === undefined) return { ok: true, text: 'I have nothing stored for this thread.' };
    await this.store.forgetConversation(conversation.id);
    this.requests.forget(conversation.id);
    this.logger.info({ platform: thread.platform, thread: thread.threadKey, user: actor.id }, 'thread forgotten');
    return { ok: true, text: 'Done: I no longer remember anything said in this thread so far. Mention me to start over; I will not read back what came before.' };
  }

  /** Deletes stored conversation data older than `retentionDays`; returns what went. */
  async prune(retentionDays: number) {
    const result = await this.store.prune(this.now() - retentionDays * DAY_MS, this.now() - 7 * DAY_MS);
    if (result.messages + result.conversations > 0) this.logger.info(result, 'pruned data past the retention period');
    return result;
  }
}

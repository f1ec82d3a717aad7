/** The system prompt a reply is sent with, and changed instructions as a system message in a thread that already has answers. */
import type { Store } from '../../store/index.js';
import type { Conversation, StoredMessage } from '../../store/types.js';
import type { ModelRules } from '../models.js';
import { buildSystemPrompt, instructionsUpdateMessage, type EffectiveInstructions } from '../system-prompt.js';

export class SystemPromptUpdate {
  constructor(private readonly store: Store) {}

  /**
   * The top-level system prompt for this request. On models that accept mid-conversation system
   * messages, a thread that already has answers keeps its first prompt byte for byte and gets
   * changed instructions as a system message after the turn being answered; elsewhere the
   * prompt is rebuilt.
   */
  async prepareSystem(conversation: Conversation, answering: StoredMessage, rules: ModelRules): Promise<string> {
    const instructions = await this.effectiveInstructions(conversation);
    const current = buildSystemPrompt(conversation.platform, instructions);
    if (conversation.systemPrompt === null || !rules.midConversationSystem || !(await this.store.messages.hasAssistantTurn(conversation.id))) {
      if (conversation.systemPrompt !== current || conversation.instructionsRev !== instructions.rev) {
        await this.store.conversations.setSystemPrompt(conversation.id, current, instructions.rev);
      }
      return current;
    }
    if (conversation.instructionsRev !== instructions.rev) {
      const kept = conversation.systemPrompt;
      await this.store.transaction(async (tx) => {
        await tx.messages.insert({
          conversationId: conversation.id,
          platformMessageId: `system:${instructions.rev}:${answering.id}`,
          authorId: 'system',
          authorName: 'system',
          authorKind: 'system',
          role: 'system',
          text: instructionsUpdateMessage(instructions),
          createdAt: answering.createdAt,
          replyToMessageId: answering.id,
        });
        await tx.conversations.setSystemPrompt(conversation.id, kept, instructions.rev);
      });
    }
    return conversation.systemPrompt;
  }

  private async effectiveInstructions(conversation: Conversation): Promise<EffectiveInstructions> {
    const workspace = await this.store.instructions.current(conversation.platform, conversation.workspaceId, '');
    const channel = await this.store.instructions.current(conversation.platform, conversation.workspaceId, conversation.channelId);
    return {
      workspace: workspace?.text ?? null,
      channel: channel?.text ?? null,
      rev: Math.max(workspace?.id ?? 0, channel?.id ?? 0),
    };
  }
}

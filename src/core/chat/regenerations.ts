/**
 * Regenerate: a question answered again, into its old answer's place, as a job of its thread like
 * a mention's. The question's finished job gives way to a new one, so a regeneration takes the
 * thread's turn among replicas as every answer does: a mention another replica takes in meanwhile
 * waits for it, it waits for an answer another replica is writing in the thread, a second press
 * finds the open job whichever replica it reaches, and so does a Stop. If its replica dies, another takes the
 * job over and regenerates in place (takeover.ts).
 */
import type { StoredAnswer } from '../../store/answers.js';
import type { Conversation, StoredMessage } from '../../store/types.js';
import { ChatPart, type ChatContext } from './context.js';
import type { JobDispatch } from './job-dispatch.js';
import type { JobLeases } from './job-leases.js';
import { refOf, threadKey } from './thread-refs.js';

/** What a press did: started a regeneration; nothing, an answer to the question being written (`busy`); nothing, the platform cannot replace answers (`unsupported`). */
export type RegenerationStart = 'started' | 'busy' | 'unsupported';

export class Regenerations extends ChatPart {
  /** Regenerations started here and not yet over, for `idle`. */
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    context: ChatContext,
    private readonly leases: JobLeases,
    private readonly dispatch: JobDispatch,
  ) {
    super(context);
  }

  /** Starts writing `answer` to `question` again; resolves once its job exists (the answer runs on). */
  async start(conversation: Conversation, question: StoredMessage, answer: StoredAnswer): Promise<RegenerationStart> {
    const replaceSink = this.platforms.get(conversation.platform)?.replaceSink;
    if (replaceSink === undefined) return 'unsupported';
    const job = await this.store.transaction(async (tx) => {
      await tx.jobs.removeFinished(question.id);
      return this.leases.createJob(tx, question.id, conversation.id);
    });
    // The question's job is open: its first answer, or another regeneration, is being written.
    if (job === undefined) return 'busy';
    const thread = refOf(conversation);
    const created = { jobId: job.id, conversationId: conversation.id, messageId: question.id, owned: job.owned, synced: false };
    const running = this.dispatch
      .answer(conversation.platform, threadKey(thread), created, () => replaceSink(thread, question.platformMessageId, answer.platformMessageIds), answer)
      .catch((error: unknown) => this.logger.error({ err: error, question: question.id }, 'regeneration failed'))
      .finally(() => this.running.delete(running));
    this.running.add(running);
    return 'started';
  }

  /** Resolves when every regeneration started so far is over. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

/**
 * Buttons on Slack answers: a Stop button while an answer is written by message updates (a
 * native stream has Slack's own stop), and under a finished answer a Regenerate button and a
 * `context_actions` block with `feedback_buttons`. Presses arrive as `block_actions`: acked at
 * once, then decided by the core; its answer goes to the presser alone (chat.postEphemeral).
 */
import type { App } from '@slack/bolt';
import type { Logger } from 'pino';
import { controlId } from '../../core/answer-controls/control-ids.js';
import type { ChatCore } from '../../core/types.js';
import type { SlackAdmins } from './commands.js';

export type SlackButtonRow = 'none' | 'stop' | 'final';

export const ACTION_IDS = { stop: 'tl_stop', regenerate: 'tl_regenerate', feedback: 'tl_feedback' } as const;

/** Blocks that go after an answer part's markdown block. */
export function controlBlocks(row: SlackButtonRow, answerId: string | undefined): unknown[] {
  if (row === 'none' || answerId === undefined) return [];
  if (row === 'stop') {
    return [{ type: 'actions', block_id: 'tl_streaming', elements: [{ type: 'button', action_id: ACTION_IDS.stop, text: { type: 'plain_text', text: '⏹️ Stop' }, value: controlId('stop', answerId) }]}];
  }
  return [
    { type: 'actions', block_id: 'tl_answer', elements: [{ type: 'button', action_id: ACTION_IDS.regenerate, text: { type: 'plain_text', text: '🔄 Regenerate' }, value: controlId('regen', answerId) }] },
    {
      type: 'context_actions',
      block_id: 'tl_feedback',
      elements: [
        {
          type: 'feedback_buttons',
          action_id: ACTION_IDS.feedback,
          positive_button: { text: { type: 'plain_text', text: '👍' }, value: controlId('up', answerId), accessibility_label: 'This answer helped' },
          negative_button: { text: { type: 'plain_text', text: '👎' }, value: controlId('down', answerId), accessibility_label: 'This answer did not help' },
        },
      ],
    },
  ];
}

interface ActionBody {
  user?: { id?: string; name?: string; username?: string; team_id?: string };
  team?: { id?: string } | null;
  channel?: { id?: string };
  message?: { ts?: string; thread_ts?: string };
  container?: { channel_id?: string; message_ts?: string; thread_ts?: string };
}

export function registerAnswerButtons(app: App, deps: { core: ChatCore; logger: Logger; admins: SlackAdmins; team: () => string }): void {
  const { core, logger, admins } = deps;
  for (const actionId of Object.values(ACTION_IDS)) {
    app.action(actionId, async ({ ack, body, action, client }) => {
      await ack();
      const payload = body as unknown as ActionBody;
      const value = (action as { value?: string }).value ?? '';
      const user = payload.user?.id ?? '';
      const channel = payload.channel?.id ?? payload.container?.channel_id ?? '';
      const threadTs = payload.message?.thread_ts ?? payload.container?.thread_ts ?? payload.message?.ts;
      // After the ack: users.info (for admins) may take a moment, and Slack wants the ack in 3 s.
      void (async () => {
        const actor = await admins.check(user, payload.user?.name ?? payload.user?.username ?? user);
        const reply = await core.pressControl({
          platform: 'slack',
          workspaceId: payload.team?.id ?? payload.user?.team_id ?? deps.team(),
          controlId: value,
          actor: { id: user, name: actor.name, isAdmin: actor.isAdmin },
        });
        if (reply.text !== undefined && channel !== '') {
          await client.chat.postEphemeral({ channel, user, text: reply.text, ...(threadTs === undefined ? {} : { thread_ts: threadTs }) });
        }
      })().catch((error: unknown) => logger.warn({ err: error, control: value }, 'could not answer a button press'));
    });
  }
}

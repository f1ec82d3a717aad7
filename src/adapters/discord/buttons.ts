/**
 * Buttons on Discord answers: Stop on the message being streamed, Regenerate / 👍 / 👎 on a
 * finished answer's last message, and the handling of a press. The custom ids name the answer
 * (core/answer-controls/control-ids.ts), so presses work after a restart. Every press is answered
 * at once (an ephemeral message or a silent deferred update), well inside Discord's 3 s.
 */
import { ButtonStyle, ComponentType, MessageFlags, PermissionFlagsBits, type ButtonInteraction } from 'discord.js';
import type { Logger } from 'pino';
import { controlId } from '../../core/answer-controls/control-ids.js';
import type { ChatCore } from '../../core/types.js';

export type ButtonRow = 'none' | 'stop' | 'final';

interface ApiButton {
  type: ComponentType.Button;
  style: ButtonStyle;
  custom_id: string;
  label?: string;
  emoji?: { name: string };
}

/** The `components` of a message for the given row (an empty array removes buttons). */
export function answerComponents(row: ButtonRow, answerId: string | undefined): Array<{ type: ComponentType.ActionRow; components: ApiButton[] }> {
  if (row === 'none' || answerId === undefined) return [];
  const button = (id: string, label: string | undefined, emoji: string): ApiButton => ({
    type: ComponentType.Button,
    style: ButtonStyle.Secondary,
    custom_id: id,
    ...(label === undefined ? {} : { label }),
    emoji: { name: emoji },
  });
  const buttons =
    row === 'stop'
      ? [button(controlId('stop', answerId), 'Stop', '⏹️')]
      : [button(controlId('regen', answerId), 'Regenerate', '🔄'), button(controlId('up', answerId), undefined, '👍'), button(controlId('down', answerId), undefined, '👎')];
  return [{ type: ComponentType.ActionRow, components: buttons }];
}

export async function handleButton(interaction: ButtonInteraction, core: ChatCore, logger: Logger): Promise<void> {
  // In a server, Manage Server makes an admin (as for the slash commands); in a DM only the asker is there.
  const isAdmin = interaction.inGuild() && interaction.memberPermissions.has(PermissionFlagsBits.ManageGuild);
  const reply = await core.pressControl({
    platform: 'discord',
    workspaceId: interaction.guildId ?? 'dm',
    controlId: interaction.customId,
    actor: { id: interaction.user.id, name: interaction.user.globalName ?? interaction.user.username, isAdmin },
  });
  try {
    if (reply.text === undefined) await interaction.deferUpdate();
    else await interaction.reply({ content: reply.text, flags: MessageFlags.Ephemeral });
  } catch (error) {
    logger.warn({ err: error, control: interaction.customId }, 'could not answer a button press');
  }
}

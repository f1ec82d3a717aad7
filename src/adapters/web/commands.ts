/**
 * The admin panel's commands: the same command objects the platforms' slash commands build,
 * run by the same core. Each entry validates its own form fields; adding a command is one entry here and one in the page's COMMANDS table (public/admin.js).
 */
import { z } from 'zod';
import type { CommandReply, InstructionsCommand } from '../../core/instructions.js';
import type { SettingsCommand } from '../../core/settings/service.js';
import type { ChatCore } from '../../core/types.js';

export interface AdminContext {
  readonly workspaceId: string;
  readonly channelId: string;
  /** Everyone at the playground is its admin: it runs on their own machine. */
  readonly actor: { readonly id: string; readonly name: string; readonly isAdmin: true };
}

/** `invalid`: the form itself was wrong (a 400), as opposed to a command that refused. */
export type AdminReply = CommandReply & { readonly invalid?: boolean };
export type AdminCommand = (fields: unknown, context: AdminContext) => AdminReply | Promise<AdminReply>;

const scope = z.enum(['workspace', 'channel']).default('workspace');

const instructionsFields = z.object({
  action: z.enum(['show', 'set', 'clear', 'history']),
  scope,
  text: z.string().max(100_000).optional(),
});

const settingsFields = z.object({
  action: z.enum(['show', 'set', 'clear', 'history']),
  scope,
  key: z.string().max(100).optional(),
  value: z.string().max(10_000).optional(),
});

const usageFields = z.object({ days: z.coerce.number().int().refine((days) => [1, 7, 30].includes(days), 'days must be 1, 7 or 30').default(7) });

export function adminCommands(core: ChatCore): Readonly<Record<string, AdminCommand>> {
  return {
    instructions: (fields, context) =>
      withFields(instructionsFields, fields, ({ text, ...input }) =>
        core.runInstructionsCommand({ ...scoped(context), ...input, ...(text === undefined ? {} : { text }) } satisfies InstructionsCommand),
      ),
    settings: (fields, context) =>
      withFields(settingsFields, fields, ({ key, value, ...input }) =>
        core.runSettingsCommand({
          ...scoped(context),
          ...input,
          ...(key === undefined ? {} : { key }),
          ...(value === undefined ? {} : { value }),
        } satisfies SettingsCommand),
      ),
    usage: (fields, context) =>
      withFields(usageFields, fields, (input) =>
        core.runUsageCommand({ platform: 'web', workspaceId: context.workspaceId, actor: context.actor, days: input.days, label: (_kind, id) => id.replace(/^web:/, '') }),
      ),
  };
}

/** Who runs a command, and where: the playground's one workspace and channel. */
function scoped(context: AdminContext) {
  return { platform: 'web' as const, workspaceId: context.workspaceId, channelId: context.channelId, actor: context.actor };
}

function withFields<T, R extends CommandReply | Promise<CommandReply>>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, fields: unknown, run: (input: T) => R): AdminReply | R {
  const parsed = schema.safeParse(fields);
  if (!parsed.success) return { ok: false, invalid: true, text: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'fields'}: ${issue.message}`).join('\n') };
  return run(parsed.data);
}

/**
 * The ids behind the buttons on answers. Each names its action and the stored question the answer
 * belongs to, so a press works after a restart, on any replica, with nothing kept in memory.
 * Platforms only send back ids the bot itself put on its messages.
 */

export type ControlAction = 'stop' | 'regen' | 'up' | 'down';

const ACTIONS: readonly ControlAction[] = ['stop', 'regen', 'up', 'down'];
const PATTERN = /^tl:(stop|regen|up|down):(\d{1,15})$/;

/** `tl:<action>:<question row id>`: well under Discord's 100-character custom_id limit. */
export function controlId(action: ControlAction, questionId: number | string): string {
  return `tl:${action}:${questionId}`;
}

export function parseControlId(raw: string): { readonly action: ControlAction; readonly questionId: number } | undefined {
  const match = PATTERN.exec(raw.trim());
  if (match === null) return undefined;
  const action = match[1] as ControlAction;
  return ACTIONS.includes(action) ? { action, questionId: Number(match[2]) } : undefined;
}

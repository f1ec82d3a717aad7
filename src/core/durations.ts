/** Days as the usage, budget and retention code counts them, and waits as a user reads them. */
export const DAY_MS = 24 * 60 * 60 * 1000;

export function humanDuration(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 90) return `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `${minutes} minutes`;
  return `${Math.round(minutes / 60)} hours`;
}

/** Midnight UTC of the day `now` falls in: daily budgets reset then. */
export function utcDayStart(now: number): number {
  return Math.floor(now / DAY_MS) * DAY_MS;
}

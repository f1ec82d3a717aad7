/**
 * Stop presses passed between replicas (PostgreSQL). An answer streams in the process that writes
 * it, but a press on its Stop button may reach any replica (Slack's HTTP events behind a load
 * balancer): that replica sends the question's id on STOP_CHANNEL (sql/postgres-listener.ts),
 * and every replica's listener hands it here, to the answer controls, which stop the answer if
 * it is theirs.
 */
export class StopRequests {
  private readonly listeners = new Set<(questionId: number) => void>();

  listen(listener: (questionId: number) => void): void {
    this.listeners.add(listener);
  }

  /** A notification's payload: a question's row id (anything else is ignored). */
  heard(payload: string): void {
    const questionId = Number(payload);
    if (!Number.isSafeInteger(questionId) || questionId <= 0) return;
    for (const listener of this.listeners) listener(questionId);
  }
}

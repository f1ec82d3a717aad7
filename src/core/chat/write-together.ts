/**
 * A transaction's independent writes, started at once. On PostgreSQL, statements started
 * together leave in one round trip (the pool pipelines) instead of one each; on SQLite they run
 * one after another as before. Every write is waited for, failed or not, before this settles, so
 * none is still running when its transaction commits or rolls back; the first failure is thrown.
 */
export async function writeTogether(writes: ReadonlyArray<Promise<unknown> | undefined>): Promise<void> {
  const results = await Promise.allSettled(writes);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}

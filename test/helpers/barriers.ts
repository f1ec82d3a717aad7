/**
 * Counts the cache barriers a PostgreSQL store passes: the ones it sends on the listening
 * connection (`sync`) and the ones a transaction carries ahead of its BEGIN (`barrier()`, sent
 * there or, when nothing took it, on the listening connection after all).
 */
import { vi } from 'vitest';
import type { Store } from '../../src/store/index.js';

export function onEachBarrier(store: Store, passed: () => void): void {
  const replicas = store.replication;
  if (replicas === undefined) throw new Error('only a PostgreSQL store passes barriers');
  const sync = replicas.sync.bind(replicas);
  vi.spyOn(replicas, 'sync').mockImplementation(() => {
    passed();
    return sync();
  });
  const barrier = replicas.barrier.bind(replicas);
  vi.spyOn(replicas, 'barrier').mockImplementation(() => {
    const pending = barrier();
    if (pending === undefined) return undefined;
    return {
      ...pending,
      sentAs: (result) => {
        passed();
        return pending.sentAs(result);
      },
      sendHere: () => {
        passed();
        return pending.sendHere();
      },
    };
  });
}

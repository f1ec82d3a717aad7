import { describe, expect, it, vi } from 'vitest';
import { lazyChild } from '../../src/core/lazy-logger.js';
import { captureLogger } from '../helpers/harness.js';

describe('lazyChild', () => {
  it('makes the child only when it is first used, and logs with its bindings', () => {
    const { logger, lines } = captureLogger([], 'info');
    const child = vi.spyOn(logger, 'child');
    const log = lazyChild(logger, { thread: 't1', message: 'm1' });
    expect(child).not.toHaveBeenCalled();
    log.info({ extra: 1 }, 'hello');
    log.warn('again');
    expect(child).toHaveBeenCalledTimes(1);
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ thread: 't1', message: 'm1', extra: 1, msg: 'hello', level: 30 }),
      expect.objectContaining({ thread: 't1', message: 'm1', msg: 'again', level: 40 }),
    ]);
    // Levels and grandchildren behave as the real child's.
    expect(log.isLevelEnabled('debug')).toBe(false);
    log.child({ part: 'x' }).error('deeper');
    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ thread: 't1', part: 'x', msg: 'deeper' });
  });
});

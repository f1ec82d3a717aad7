/** Runs the fake Messages API in a child process (see fake-anthropic-process.ts). */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { FakeAnthropicOptions } from '../test/fakes/anthropic.js';

export interface RemoteFakeAnthropic {
  readonly url: string;
  /** HTTP statuses of the Messages requests answered so far. */
  statuses(): Promise<number[]>;
  close(): Promise<void>;
}

export async function startRemoteFakeAnthropic(options: FakeAnthropicOptions): Promise<RemoteFakeAnthropic> {
  const child: ChildProcess = fork(join(import.meta.dirname, 'fake-anthropic-process.ts'), [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ready] = (await once(child, 'message')) as [{ kind: string; url: string }];
  return {
    url: ready.url,
    async statuses() {
      child.send({ kind: 'statuses' });
      for (;;) {
        const [reply] = (await once(child, 'message')) as [{ kind: string; statuses: number[] }];
        if (reply.kind === 'statuses') return reply.statuses;
      }
    },
    async close() {
      child.send({ kind: 'close' });
      await once(child, 'exit');
    },
  };
}

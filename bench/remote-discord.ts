/** Runs the fake Discord in a child process (see fake-discord-process.ts), for the latency figures. */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { FakeDiscordOptions } from '../test/fakes/discord/fake-discord.js';

export interface RemoteDiscordReady {
  readonly kind: 'ready';
  readonly token: string;
  readonly apiUrl: string;
  readonly guildId: string;
  readonly generalId: string;
}

export type RemoteDiscordCommand =
  | { readonly kind: 'threads'; readonly count: number; readonly name: string }
  | { readonly kind: 'mention'; readonly threadIds: readonly string[]; readonly text: string }
  | { readonly kind: 'since'; readonly since: number; readonly started: number }
  | { readonly kind: 'close' };

export type RemoteDiscordReply =
  | { readonly kind: 'threads'; readonly ids: string[] }
  /** Per thread, in the order asked: ms from the mentions to its first visible text. */
  | { readonly kind: 'mentioned'; readonly latencies: number[]; readonly since: number; readonly started: number }
  | { readonly kind: 'since'; readonly elapsedMs: number; readonly rest429s: number };

export interface RemoteDiscord {
  readonly ready: RemoteDiscordReady;
  /** Threads opened in #general while the bot watches (so it knows them without reading history). */
  openThreads(count: number, name: string): Promise<string[]>;
  /** Mentions the bot in every thread at once; resolves once each has its first visible text. */
  mentionAll(threadIds: readonly string[], text: string): Promise<{ latencies: number[]; since: number; started: number }>;
  /** Since the mentions: ms elapsed, and the 429s Discord answered. */
  since(mark: { since: number; started: number }): Promise<{ elapsedMs: number; rest429s: number }>;
  close(): Promise<void>;
}

export async function startRemoteDiscord(options: FakeDiscordOptions): Promise<RemoteDiscord> {
  const child: ChildProcess = fork(join(import.meta.dirname, 'fake-discord-process.ts'), [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ready] = (await once(child, 'message')) as [RemoteDiscordReady];
  const ask = async <K extends RemoteDiscordReply['kind']>(command: RemoteDiscordCommand, kind: K): Promise<Extract<RemoteDiscordReply, { kind: K }>> => {
    child.send(command);
    for (;;) {
      const [reply] = (await once(child, 'message')) as [RemoteDiscordReply];
      if (reply.kind === kind) return reply as Extract<RemoteDiscordReply, { kind: K }>;
    }
  };
  return {
    ready,
    async openThreads(count, name) {
      return (await ask({ kind: 'threads', count, name }, 'threads')).ids;
    },
    async mentionAll(threadIds, text) {
      const { latencies, since, started } = await ask({ kind: 'mention', threadIds, text }, 'mentioned');
      return { latencies, since, started };
    },
    async since(mark) {
      const { elapsedMs, rest429s } = await ask({ kind: 'since', ...mark }, 'since');
      return { elapsedMs, rest429s };
    },
    async close() {
      child.send({ kind: 'close' });
      await once(child, 'exit');
    },
  };
}

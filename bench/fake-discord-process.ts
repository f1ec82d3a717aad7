/**
 * The fake Discord in a process of its own, as Discord runs on machines of its own: the latency
 * figures then do not count the double's work (its REST handling, its gateway) as the bot's.
 * Started by `startRemoteDiscord` with its options as JSON in argv; driven over IPC. Every time it
 * reports is its own clock's (`Date.now()`), so a mention's latency is measured on one clock.
 */
import { startFakeDiscord, type FakeDiscordOptions } from '../test/fakes/discord/fake-discord.js';
import type { RemoteDiscordCommand, RemoteDiscordReady, RemoteDiscordReply } from './remote-discord.js';

const options = JSON.parse(process.argv[2] ?? '{}') as FakeDiscordOptions;
const discord = await startFakeDiscord(options);
const general = discord.addTextChannel('general');
const alice = discord.user('100000000000000001', 'Alice');
const ready: RemoteDiscordReady = { kind: 'ready', token: discord.token, apiUrl: discord.apiUrl, guildId: discord.guildId, generalId: general.id };
process.send?.(ready);

const reply = (message: RemoteDiscordReply) => process.send?.(message);

process.on('message', (command: RemoteDiscordCommand) => {
  void (async () => {
    switch (command.kind) {
      case 'threads':
        reply({ kind: 'threads', ids: Array.from({ length: command.count }, (_, i) => discord.addThread(general.id, `${command.name} ${i}`).id) });
        return;
      case 'mention': {
        // Each thread's first visible text: the first message the bot posts in it after the mentions.
        const since = discord.rest.length;
        const started = Date.now();
        for (const id of command.threadIds) discord.post(id, alice, discord.mention(command.text));
        const firstText = new Map<string, number>();
        await discord.rest.waitFor(
          (r) => {
            const thread = /^\/channels\/(\d+)\/messages$/.exec(r.path)?.[1];
            if (r.method === 'POST' && r.status === 200 && thread !== undefined && !firstText.has(thread)) firstText.set(thread, r.at);
            return firstText.size === command.threadIds.length;
          },
          'every first text',
          { since, timeoutMs: 600_000 },
        );
        reply({ kind: 'mentioned', latencies: command.threadIds.map((id) => (firstText.get(id) as number) - started), since, started });
        return;
      }
      case 'since': {
        const entries = discord.rest.entries.slice(command.since);
        reply({ kind: 'since', elapsedMs: Date.now() - command.started, rest429s: entries.filter((r) => r.status === 429).length });
        return;
      }
      case 'close':
        await discord.close();
        process.exit(0);
    }
  })();
});

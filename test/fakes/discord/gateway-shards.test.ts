/**
 * The fake gateway routes like Discord's: a session identified as shard [id, count] receives only
 * its guilds' events (and DMs on shard 0), READY lists its guilds, `GET /gateway/bot` answers the
 * configured count, and a second live connection for a shard is logged as an overlap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { shardOfGuild, startFakeDiscord, type FakeDiscord } from './fake-discord.js';

interface Frame {
  readonly op: number;
  readonly t: string | null;
  readonly d: Record<string, unknown>;
}

/** A bare gateway client: connects, identifies as `shard`, collects dispatches. */
async function connect(discord: FakeDiscord, shard?: [number, number]): Promise<{ frames: Frame[]; ws: WebSocket; next(type: string): Promise<Frame> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${discord.port}/gateway`);
  const frames: Frame[] = [];
  const waiters: Array<{ type: string; resolve: (frame: Frame) => void }> = [];
  ws.on('message', (raw) => {
    const frame = JSON.parse(String(raw)) as Frame;
    frames.push(frame);
    for (const waiter of waiters.filter((w) => w.type === frame.t)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(frame);
    }
  });
  await new Promise((resolve) => ws.once('open', resolve));
  const next = (type: string) => new Promise<Frame>((resolve) => waiters.push({ type, resolve }));
  const ready = next('READY');
  ws.send(JSON.stringify({ op: 2, d: { token: discord.token, intents: 0, properties: {}, ...(shard === undefined ? {} : { shard }) } }));
  await ready;
  return { frames, ws, next };
}

describe('the fake gateway with shards', () => {
  let discord: FakeDiscord;
  const sockets: WebSocket[] = [];
  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    await discord.close();
  });

  it('answers the configured shard count and routes each guild’s events to its shard only', async () => {
    discord = await startFakeDiscord({ shardCount: 2 });
    const gateway = (await (await fetch(`${discord.apiUrl}/v10/gateway/bot`, { headers: { authorization: `Bot ${discord.token}` } })).json()) as { shards: number };
    expect(gateway.shards).toBe(2);

    const guilds = [discord.addGuild({ shard: 0, count: 2 }), discord.addGuild({ shard: 1, count: 2 })];
    expect(guilds.map((id) => shardOfGuild(id, 2))).toEqual([0, 1]);
    const channels = guilds.map((guild, index) => discord.addTextChannel(`general-${index}`, undefined, guild));
    const alice = discord.user('100000000000000001', 'Alice');
    const dm = discord.addDm(alice);

    const shard0 = await connect(discord, [0, 2]);
    const shard1 = await connect(discord, [1, 2]);
    sockets.push(shard0.ws, shard1.ws);
    const readyGuilds = (client: typeof shard0) => ((client.frames.find((f) => f.t === 'READY')?.d.guilds ?? []) as Array<{ id: string }>).map((g) => g.id);
    const homeGuild = shardOfGuild(discord.guildId, 2);
    expect(readyGuilds(shard0)).toEqual([...(homeGuild === 0 ? [discord.guildId] : []), guilds[0]]);
    expect(readyGuilds(shard1)).toEqual([...(homeGuild === 1 ? [discord.guildId] : []), guilds[1]]);

    const onShard1 = shard1.next('MESSAGE_CREATE');
    discord.post((channels[1] as { id: string }).id, alice, 'for shard one');
    expect((await onShard1).d.content).toBe('for shard one');
    const onShard0 = shard0.next('MESSAGE_CREATE');
    discord.post((channels[0] as { id: string }).id, alice, 'for shard zero');
    discord.post(dm.id, alice, 'a DM');
    expect((await onShard0).d.content).toBe('for shard zero');
    const dmFrame = await new Promise<Frame>((resolve) => {
      const found = shard0.frames.find((f) => f.t === 'MESSAGE_CREATE' && f.d.content === 'a DM');
      if (found !== undefined) resolve(found);
      else void shard0.next('MESSAGE_CREATE').then(resolve);
    });
    expect(dmFrame.d.content).toBe('a DM');
    const contents = (client: typeof shard0) => client.frames.filter((f) => f.t === 'MESSAGE_CREATE').map((f) => f.d.content);
    expect(contents(shard0)).toEqual(['for shard zero', 'a DM']);
    expect(contents(shard1)).toEqual(['for shard one']);

    const identifies = discord.gateway.entries.filter((e) => e.kind === 'identify');
    expect(identifies.map((e) => (e.kind === 'identify' ? e.shard : null))).toEqual([[0, 2], [1, 2]]);
    expect(discord.sessions.connectionsPerShard(2)).toEqual(new Map([[0, 1], [1, 1]]));
    expect(discord.gateway.entries.some((e) => e.kind === 'overlap')).toBe(false);
  });

  it('logs a second live connection for a shard as an overlap, and none once the first has closed', async () => {
    discord = await startFakeDiscord({ shardCount: 2 });
    const first = await connect(discord, [1, 2]);
    sockets.push(first.ws);
    const closed = discord.gateway.waitFor((e) => e.kind === 'close', 'close of the first connection');
    first.ws.close();
    await closed;
    const second = await connect(discord, [1, 2]);
    sockets.push(second.ws);
    expect(discord.gateway.entries.some((e) => e.kind === 'overlap')).toBe(false);

    const third = await connect(discord, [1, 2]);
    sockets.push(third.ws);
    expect(discord.gateway.entries.filter((e) => e.kind === 'overlap')).toEqual([expect.objectContaining({ shard: [1, 2] })]);
    expect(discord.sessions.connectionsPerShard(2).get(1)).toBe(2);
  });

  it('without a shard in IDENTIFY, one session gets every guild (the single-shard default)', async () => {
    discord = await startFakeDiscord();
    const other = discord.addGuild();
    const client = await connect(discord);
    sockets.push(client.ws);
    const ready = client.frames.find((f) => f.t === 'READY');
    expect((ready?.d.guilds as Array<{ id: string }>).map((g) => g.id)).toEqual([discord.guildId, other]);
    expect(discord.gateway.entries.find((e) => e.kind === 'identify')).toMatchObject({ shard: [0, 1] });
  });
});

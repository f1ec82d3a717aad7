/**
 * What the assistant panel adds to a reply's request: the viewed channel, read once per reply
 * (never for a platform without the panel), added after the question being answered.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AssistantPanel } from '../../src/core/assistant-panel.js';
import type { ClaudeRequest } from '../../src/core/request/types.js';
import { Store } from '../../src/store/index.js';

const dirs: string[] = [];
const stores: Store[] = [];
async function openStore(): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'threadline-panel-'));
  dirs.push(dir);
  const store = await Store.open({ databasePath: join(dir, 'threadline.db') });
  stores.push(store);
  return store;
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const request = (): ClaudeRequest =>
  ({
    model: 'claude-opus-4-8',
    max_tokens: 100,
    system: 'system',
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'earlier' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'answer' }] },
      { role: 'user', content: [{ type: 'text', text: 'the question' }] },
    ],
  }) as unknown as ClaudeRequest;

describe('AssistantPanel: the viewed channel in a request', () => {
  it('reads the Slack thread’s viewed channel and tells it after the question; no query elsewhere', async () => {
    const store = await openStore();
    const panel = new AssistantPanel(store, () => 1000);
    const slack = await store.conversations.findOrCreate({ platform: 'slack', workspaceId: 'T1', channelId: 'D1', threadKey: 'D1:1.0' }, 1000);
    await panel.contextChanged({ platform: 'slack', workspaceId: 'T1', channelId: 'D1', threadKey: 'D1:1.0' }, { id: 'C9', label: '#design' });
    const viewing = await panel.viewedChannel(slack);
    expect(viewing).toEqual({ id: 'C9', label: '#design' });
    const withNote = panel.withViewedChannel(request(), viewing);
    expect(withNote.messages[2]?.content.at(-1)).toEqual({ type: 'text', text: '[Slack assistant panel: while asking this, the user is looking at the channel #design (id C9).]' });
    // The earlier turns are the same objects (the cached prefix stays byte for byte).
    const plain = request();
    expect(panel.withViewedChannel(plain, viewing).messages[0]).toBe(plain.messages[0]);

    const query = vi.spyOn(store.answers, 'assistantThread');
    const discord = await store.conversations.findOrCreate({ platform: 'discord', workspaceId: 'G1', channelId: 'C1', threadKey: 'T1' }, 1000);
    expect(await panel.viewedChannel(discord)).toBeUndefined();
    expect(query).not.toHaveBeenCalled();
    expect(panel.withViewedChannel(plain, undefined)).toBe(plain);
  });

  it('without a viewed channel stored, the request is unchanged', async () => {
    const store = await openStore();
    const panel = new AssistantPanel(store, () => 1000);
    const slack = await store.conversations.findOrCreate({ platform: 'slack', workspaceId: 'T1', channelId: 'D1', threadKey: 'D1:2.0' }, 1000);
    const plain = request();
    expect(panel.withViewedChannel(plain, await panel.viewedChannel(slack))).toBe(plain);
  });
});

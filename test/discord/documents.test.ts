import { once } from 'node:events';
import { Events } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { snowflake } from '../fakes/discord/fake-discord.js';
import { DOCX_TYPE, docxBytes, pdfBytes } from '../helpers/documents.js';
import { startDiscordWorld, type DiscordWorld } from './setup.js';

type Block = { type: string; text?: string; title?: string; source?: { type: string; url?: string; file_id?: string } };
type Body = { messages: Array<{ role: string; content: Block[] }> };
const blocks = (w: DiscordWorld, i: number) => (w.h.anthropic.messageRequests()[i]?.body as unknown as Body).messages.flatMap((m) => m.content);
const documents = (w: DiscordWorld, i: number) => blocks(w, i).filter((b) => b.type === 'document');

describe('Discord documents', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('sends a PDF posted yesterday as a url document, refreshed once, the same on the first and the tenth reply', async () => {
    let threadId = '';
    let oldUrl = '';
    w = await startDiscordWorld({
      before: (discord) => {
        const parent = discord.addTextChannel('specs');
        threadId = discord.addThread(parent.id, 'the spec', snowflake(), false).id;
        const spec = discord.attachment('spec.pdf', 'application/pdf', { expiresAt: Date.now() - 3600_000, bytes: pdfBytes(12) });
        oldUrl = spec.url;
        discord.seed(threadId, discord.user('100000000000000002', 'Bob'), 'here is the spec', { attachments: [spec] });
      },
    });
    for (let turn = 1; turn <= 10; turn += 1) {
      w.discord.post(threadId, w.alice, w.discord.mention(`question ${turn} about the spec`));
      await w.h.anthropic.waitForRequests(turn);
    }
    await w.h.core.idle();
    const requests = w.h.anthropic.messageRequests();
    expect(requests.map((r) => r.status)).toEqual(Array(10).fill(200));
    const refreshes = w.discord.rest.entries.filter((r) => r.path === '/attachments/refresh-urls');
    expect(refreshes.map((r) => (r.body as { attachment_urls: string[] }).attachment_urls)).toEqual([[oldUrl]]);
    const first = documents(w, 0);
    expect(first).toHaveLength(1);
    expect(first[0]?.source?.type).toBe('url');
    expect(first[0]?.source?.url).toContain('hm=fresh');
    expect(first[0]?.title).toBe('spec.pdf');
    expect(JSON.stringify(documents(w, 9))).toBe(JSON.stringify(first));
    // Same block at the same place: the tenth request reads the first one's prefix from the cache.
    expect(requests[9]?.usage?.cache_read_input_tokens).toBeGreaterThan(12 * 2000);
    expect(w.h.anthropic.files.size).toBe(0);
  });

  it('falls back to the Files API when the API cannot download the PDF link', async () => {
    w = await startDiscordWorld({ anthropic: { validate: { canDownload: (url) => !url.includes('/attachments/') } } });
    const spec = w.discord.attachment('spec.pdf', 'application/pdf', { bytes: pdfBytes(2) });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('summarize'), { attachments: [spec] });
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    const requests = w.h.anthropic.messageRequests();
    expect(requests.map((r) => r.status)).toEqual([400, 200]);
    expect(documents(w, 1)[0]?.source?.type).toBe('file');
    expect(w.h.anthropic.files.size).toBe(1);
    expect(w.discord.botMessages(mention.id)[0]?.content).toMatch(/^echo: summarize/);
  });

  it('notes a "PDF" that is really an HTML page, tells the user, and answers without a 400', async () => {
    w = await startDiscordWorld();
    const fake = w.discord.attachment('invoice.pdf', 'application/pdf', { bytes: Buffer.from('<!DOCTYPE html><html><body>Sign in</body></html>') });
    const mention = w.discord.post(w.general.id, w.alice, w.discord.mention('what is the total?'), { attachments: [fake] });
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests().map((r) => r.status)).toEqual([200]);
    expect(documents(w, 0)).toHaveLength(0);
    expect(JSON.stringify(blocks(w, 0))).toMatch(/invoice\.pdf \(application\/pdf[^)]*\) not shown: the platform returned a web page/);
    expect(w.discord.botMessages(mention.id)[0]?.content).toMatch(/couldn't look at invoice\.pdf/);
  });

  it('inlines a Word file as text, and names the type of a spreadsheet it cannot read', async () => {
    w = await startDiscordWorld();
    const doc = w.discord.attachment('minutes.docx', DOCX_TYPE, { bytes: await docxBytes(['Minutes of the meeting', 'Decision: ship on Friday']) });
    const sheet = w.discord.attachment('budget.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', { size: 5000 });
    w.discord.post(w.general.id, w.alice, w.discord.mention('what was decided?'), { attachments: [doc, sheet] });
    await w.h.anthropic.waitForRequests(1);
    const text = JSON.stringify(blocks(w, 0));
    expect(text).toMatch(/\[attached file minutes\.docx\]\\n```\\nMinutes of the meeting\\n\\nDecision: ship on Friday\\n```/);
    expect(text).toMatch(/budget\.xlsx .* not shown: spreadsheets are not read/);
  });

  it('keeps the newest of 25 large images at full size and answers, where it used to send none', async () => {
    let threadId = '';
    w = await startDiscordWorld({
      before: (discord) => {
        const parent = discord.addTextChannel('photos');
        threadId = discord.addThread(parent.id, 'shoot', snowflake(), false).id;
        for (let i = 0; i < 24; i += 1) {
          discord.seed(threadId, discord.user('100000000000000002', 'Bob'), `shot ${i}`, { attachments: [discord.attachment(`shot-${i}.png`, 'image/png', { width: 3000, height: 2000 })] });
        }
      },
    });
    const newest = w.discord.attachment('newest.png', 'image/png', { width: 4000, height: 3000 });
    const mention = w.discord.post(threadId, w.alice, w.discord.mention('which is sharpest?'), { attachments: [newest] });
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests().map((r) => r.status)).toEqual([200]);
    const images = blocks(w, 0).filter((b) => b.type === 'image');
    expect(images).toHaveLength(20);
    expect(images.at(-1)?.source?.url).toBe(newest.url);
    expect(JSON.stringify(blocks(w, 0))).toMatch(/shot-0\.png not shown: a request with more than 20 images/);
    expect(JSON.stringify(blocks(w, 0))).not.toMatch(/shot-23\.png not shown/);
    expect(w.discord.botMessages(threadId).some((m) => /^echo: .*which is sharpest\?/.test(m.content))).toBe(true);
    void mention;
  });
});

describe('Discord edits and deletes, ordered with the messages they change', () => {
  let w: DiscordWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  /** A thread the bot has not seen: its first mention makes it read the history first. */
  async function busyThread() {
    let threadId = '';
    const world = await startDiscordWorld({
      before: (discord) => {
        const parent = discord.addTextChannel('team');
        threadId = discord.addThread(parent.id, 'plans', snowflake(), false).id;
        discord.seed(threadId, discord.user('100000000000000002', 'Bob'), 'some earlier chatter');
      },
    });
    return { world, threadId };
  }

  it('never answers a mention deleted milliseconds after it was posted while the thread is busy, nor sends it later', async () => {
    const { world, threadId } = await busyThread();
    w = world;
    const historyRead = w.discord.hold((method, path) => method === 'GET' && path === `/channels/${threadId}/messages`);
    w.discord.post(threadId, w.alice, w.discord.mention('first question'));
    await historyRead.arrived;
    const deleteSeen = once(w.adapter.client, Events.MessageDelete);
    w.discord.batch(() => {
      const doomed = w?.discord.post(threadId, w.alice, w.discord.mention('oops, wrong thread'));
      w?.discord.remove(threadId, doomed?.id ?? '');
    });
    await deleteSeen;
    historyRead.release();
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests()).toHaveLength(1);
    expect(w.discord.botMessages(threadId).map((m) => m.content)).toEqual([expect.stringMatching(/^echo: (Alice: )?first question/)]);
    w.discord.post(threadId, w.alice, w.discord.mention('second question'));
    await w.h.anthropic.waitForRequests(2);
    expect(JSON.stringify(blocks(w, 1))).not.toContain('wrong thread');
  });

  it('never answers, nor opens a thread for, a channel mention deleted right after it was posted', async () => {
    w = await startDiscordWorld();
    let doomedId = '';
    w.discord.batch(() => {
      const doomed = w?.discord.post(w.general.id, w.alice, w.discord.mention('never mind'));
      doomedId = doomed?.id ?? '';
      w?.discord.remove(w.general.id, doomedId);
    });
    // A later mention elsewhere is answered: the bot did not hang on the deleted one.
    const later = w.discord.post(w.general.id, w.alice, w.discord.mention('a real question'));
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests()).toHaveLength(1);
    expect(JSON.stringify(blocks(w, 0))).not.toContain('never mind');
    expect(w.discord.botMessages(later.id)).toHaveLength(1);
    expect(w.discord.botMessages(doomedId)).toHaveLength(0);
    // Its thread is opened by the answer's first write, and there is none.
    expect(w.discord.rest.entries.some((r) => r.path.endsWith(`/messages/${doomedId}/threads`))).toBe(false);
  });

  it('answers a mention edited while it waited behind a history read, with the edited text', async () => {
    const { world, threadId } = await busyThread();
    w = world;
    const historyRead = w.discord.hold((method, path) => method === 'GET' && path === `/channels/${threadId}/messages`);
    w.discord.post(threadId, w.alice, w.discord.mention('first question'));
    await historyRead.arrived;
    const editSeen = once(w.adapter.client, Events.MessageUpdate);
    w.discord.batch(() => {
      const typo = w?.discord.post(threadId, w.alice, w.discord.mention('what is teh plan?'));
      w?.discord.edit(threadId, typo?.id ?? '', w.discord.mention('what is the plan for Friday?'));
    });
    // Both events reach the bot while the history read is still out.
    await editSeen;
    historyRead.release();
    await w.h.anthropic.waitForRequests(2);
    await w.h.core.idle();
    const second = JSON.stringify(blocks(w, 1));
    expect(second).toContain('what is the plan for Friday?');
    expect(second).not.toContain('teh plan');
  });
});

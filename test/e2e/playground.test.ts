/**
 * The playground as a newcomer meets it: `npm start` with only an API key (and the fake Messages
 * API), a real headless chromium on the page. Each step waits on what the page or the fake
 * shows; nothing sleeps.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic, type RecordedRequest } from '../fakes/anthropic.js';
import { launchBrowser, solidPng, tinyPdf } from '../helpers/browser.js';
import { TEST_API_KEY } from '../helpers/harness.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';
import { freePort } from '../slack/setup.js';
import { healthOf, startBot, type BotProcess } from './process.js';

const ROOT = join(import.meta.dirname, '..', '..');
type Block = { type: string; text?: string; source?: { type: string } };
type Body = { system?: unknown; messages: Array<{ role: string; content: string | Block[] }> };

const bodyOf = (request: RecordedRequest | undefined) => request?.body as unknown as Body;
const blocksOf = (body: Body) => body.messages.flatMap((message) => (typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content));
const userTexts = (body: Body) => body.messages.filter((m) => m.role === 'user').flatMap((m) => (typeof m.content === 'string' ? [m.content] : m.content.filter((b) => b.type === 'text').map((b) => b.text ?? '')));

describe('the playground in a real browser, against npm start', { timeout: 120_000 }, () => {
  let dir: string;
  let anthropic: FakeAnthropic;
  let browser: Browser;
  let bot: BotProcess;
  let port: number;
  let page: Page;
  const pageErrors: string[] = [];

  const env = () => ({ ANTHROPIC_API_KEY: TEST_API_KEY, ANTHROPIC_BASE_URL: anthropic.url, PORT: String(port), DATABASE_PATH: join(dir, 'data', 'threadline.db') });
  const startPlayground = async () => {
    bot = startBot(env());
    // Polls like expect.poll, which beforeAll cannot use.
    // `npm start` compiles the app at start: under the whole suite's load that took over 20 s here.
    for (const deadline = Date.now() + 60_000; (await healthOf(port))?.status !== 200; ) {
      if (Date.now() > deadline || bot.child.exitCode !== null) throw new Error(`the playground did not become healthy:\n${bot.output.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stopPlayground = async () => {
    bot.child.kill('SIGTERM');
    expect((await bot.exited).code).toBe(0);
  };
  /** Sends what is in the composer, and waits for the Messages request it causes and the answer on screen. */
  const send = async (text: string): Promise<Body> => {
    const before = anthropic.messageRequests().length;
    const answers = await page.locator('.message.bot').count();
    await page.fill('#text', text);
    await page.press('#text', 'Enter');
    await anthropic.waitForRequests(before + 1);
    await expect.poll(() => page.locator('.message.bot:not(.streaming)').count(), { timeout: 15_000 }).toBe(answers + 1);
    return bodyOf(anthropic.messageRequests()[before]);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-playground-'));
    anthropic = await startFakeAnthropic({ apiKey: TEST_API_KEY });
    port = await freePort();
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await startPlayground();
  }, 90_000);
  afterAll(async () => {
    if (bot !== undefined && bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
    await bot?.exited;
    await browser?.close();
    await anthropic?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts with only an API key, logs the URL and reports the web adapter healthy', async () => {
    expect((await healthOf(port))?.body).toEqual({ ok: true, discord: 'off', slack: 'off', db: 'ok', web: 'ready' });
    await expect.poll(() => bot.output.join('')).toContain(`http://127.0.0.1:${port}/`);
    expect(bot.output.join('')).not.toContain(TEST_API_KEY);
  });

  it('streams an answer to a question that starts a thread, and shows it in the sidebar', async () => {
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('body[data-connected="true"]');
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    anthropic.enqueue({ text: 'Threads keep a **conversation** together, one reply after another.', chunkSize: 6, pauseAfterChars: { chars: 12, until: released } });
    await page.fill('#text', 'What is a thread?');
    await page.press('#text', 'Enter');
    // Part of the answer is on screen while the model is still writing…
    await page.waitForSelector('.message.bot.streaming .body:has-text("Threads keep")');
    expect(await page.locator('.message.bot.streaming .body').textContent()).not.toContain('conversation');
    release();
    // …and then all of it, rendered from Markdown.
    await page.waitForSelector('.message.bot:not(.streaming) strong:has-text("conversation")');
    await page.waitForSelector('#threads .thread.active:has-text("What is a thread?")');
    expect(await page.locator('.message.user .author').allTextContents()).toEqual(['Alice']);
  });

  it('renders model and user text safely: markup is shown as text, never run', async () => {
    const attack = '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> [link](javascript:window.__pwned=3)';
    await send(attack);
    expect(await page.locator('#messages img').count()).toBe(0);
    expect(await page.locator('#messages script').count()).toBe(0);
    expect(await page.locator('#messages a[href^="javascript"]').count()).toBe(0);
    await expect.poll(() => page.locator('.message.bot').last().textContent()).toContain('<img src=x onerror=');
    expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it('sends an uploaded image to the model and a PDF in the form the core uses for it', async () => {
    await page.setInputFiles('#file', [
      { name: 'square.png', mimeType: 'image/png', buffer: solidPng(48, 48, [200, 85, 61]) },
      { name: 'brief.pdf', mimeType: 'application/pdf', buffer: tinyPdf() },
    ]);
    await page.waitForSelector('#pending-files img[alt="square.png"]');
    await page.waitForSelector('#pending-files a:has-text("brief.pdf")');
    const body = await send('@threadline what is in these files?');
    const blocks = blocksOf(body);
    const image = blocks.find((block) => block.type === 'image');
    expect(image?.source?.type).toMatch(/^(file|base64)$/);
    if (image?.source?.type === 'file') expect([...anthropic.files.values()].map((file) => file.filename)).toContain('square.png');
    // PDFs: a document block once the core reads them, a note naming the file until then.
    const pdfReached = blocks.some((block) => block.type === 'document') || JSON.stringify(body).includes('brief.pdf');
    expect(pdfReached).toBe(true);
    // The page shows the image from the playground's own upload store.
    const shown = page.locator('.message.user img[alt="square.png"]');
    await shown.waitFor();
    expect(await shown.evaluate((img) => {
      const loaded = img as unknown as { complete: boolean; naturalWidth: number };
      return loaded.complete && loaded.naturalWidth;
    })).toBe(48);
  });

  it('tells participants apart: switching who you are prefixes each turn with its author', async () => {
    await page.fill('#new-participant', 'Bob');
    await page.click('#add-participant button');
    expect(await page.inputValue('#participant')).toBe('Bob');
    const body = await send('Bob here. @threadline can you summarise?');
    const texts = userTexts(body);
    expect(texts.some((text) => text.startsWith('Alice: What is a thread?'))).toBe(true);
    expect(texts.at(-1)).toBe('Bob: Bob here. can you summarise?');
    expect(await page.locator('.message.user .author').allTextContents()).toContain('Bob');
    await page.selectOption('#participant', 'Alice');
  });

  it('applies instructions set in the admin panel to the next request', async () => {
    await page.click('#open-admin');
    await page.selectOption('#admin-command', 'instructions');
    await page.selectOption('#admin-action', 'set');
    await page.fill('#admin-text', 'Always end with the word BANANA.');
    await page.click('#admin-run');
    await page.waitForSelector('#admin-output:has-text("Workspace instructions set")');
    await page.selectOption('#admin-action', 'show');
    await page.click('#admin-run');
    await page.waitForSelector('#admin-output:has-text("Always end with the word BANANA.")');
    await page.click('#close-admin');
    const body = await send('And now?');
    expect(JSON.stringify(body)).toContain('Always end with the word BANANA.');
  });

  it('stops a streaming answer with the Stop button', async () => {
    anthropic.enqueue({ text: 'This answer starts and then never finishes', stallAfterChars: 15, chunkSize: 15 });
    const answers = await page.locator('.message.bot').count();
    await page.fill('#text', 'Tell me a long story');
    await page.press('#text', 'Enter');
    await page.waitForSelector('.message.bot.streaming .body:has-text("This answer")');
    await page.click('.message.bot.streaming .stop');
    await page.waitForSelector('.message.bot .note:has-text("Stopped.")');
    expect(await page.locator('.message.bot').count()).toBe(answers + 1);
  });

  it('exposes /metrics with the replies, tokens and latencies so far, and no text, names or ids in labels', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const samples = parsePrometheus(text);
    expect(sampleValue(samples, 'threadline_replies_total', { platform: 'web', outcome: 'answered' })).toBe(5);
    expect(sampleValue(samples, 'threadline_replies_total', { platform: 'web', outcome: 'stopped' })).toBe(1);
    expect(sampleValue(samples, 'threadline_model_tokens_total', { kind: 'output' })).toBeGreaterThan(0);
    expect(sampleValue(samples, 'threadline_model_first_token_seconds_count', {})).toBe(6);
    expect(sampleValue(samples, 'threadline_first_visible_seconds_count', {})).toBe(6);
    expect(sampleValue(samples, 'threadline_replies_in_flight', {})).toBe(0);
    expect(sampleValue(samples, 'threadline_replies_queued', {})).toBe(0);
    expect(text).toContain('# TYPE threadline_errors_total counter');
    const labels = samples.flatMap((sample) => Object.values(sample.labels)).join('\n');
    for (const leak of ['Alice', 'Bob', 'thread', 'BANANA', 'square.png', 'web:']) expect(labels).not.toContain(leak);
  });

  it('votes on a finished answer and regenerates it in place with the buttons under it', async () => {
    // Cara asks (Alice has used up her messages per minute by now).
    await page.fill('#new-participant', 'Cara');
    await page.click('#add-participant button');
    const first = 'First try: call the cat Tom.';
    anthropic.enqueue({ text: first });
    await send('Name a cat for me');
    const answer = page.locator('.message.bot').last();
    const replyId = (await answer.getAttribute('data-reply-id')) as string;
    expect(await answer.locator('.body').textContent()).toContain(first);
    const answers = await page.locator('.message.bot').count();

    await answer.locator('button.control.up').click();
    await answer.locator('.control-reply:has-text("Noted your 👍")').waitFor();

    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    anthropic.enqueue({ text: 'Regenerated: call the cat **Biscuit**.', chunkSize: 6, pauseAfterChars: { chars: 14, until: released } });
    const requests = anthropic.messageRequests().length;
    await answer.locator('button.control.regen').click();
    // The new answer streams into the old one's place: same message, Stop and no buttons while it is written…
    const same = page.locator(`.message.bot[data-reply-id="${replyId}"]`);
    await page.waitForSelector(`.message.bot.streaming[data-reply-id="${replyId}"] .body:has-text("Regenerated")`);
    expect(await same.locator('.stop').count()).toBe(1);
    expect(await same.locator('.controls').count()).toBe(0);
    expect(await page.locator('#messages').textContent()).not.toContain(first);
    expect(await page.locator('.message.bot').count()).toBe(answers);
    expect(JSON.stringify(bodyOf(anthropic.messageRequests()[requests]))).not.toContain(first);
    release();
    // …then the finished answer, with its buttons back.
    await page.waitForSelector(`.message.bot:not(.streaming)[data-reply-id="${replyId}"] strong:has-text("Biscuit")`);
    await same.locator('button.control.regen').waitFor();
    expect(await page.locator('.message.bot').count()).toBe(answers);

    // The stored thread holds only the new answer, under the same message.
    await page.reload();
    await page.waitForSelector(`.message.bot[data-message-id="${replyId}"] strong:has-text("Biscuit")`);
    expect(await page.locator('.message.bot').count()).toBe(answers);
    expect(await page.locator('#messages').textContent()).not.toContain(first);
    expect(await page.locator(`.message.bot[data-message-id="${replyId}"] button.control`).count()).toBe(3);

    // And the conversation goes on from the new answer.
    const next = JSON.stringify(await send('And a dog?'));
    expect(next).toContain('Regenerated: call the cat **Biscuit**.');
    expect(next).not.toContain(first);
    await page.selectOption('#participant', 'Alice');
  });

  it('finds the thread again after a reload and after a restart, and takes the README screenshot', async () => {
    // Everything comes back, the stopped answer's partial text too (the core stores what was shown).
    const messages = await page.locator('.message').count();
    expect(messages).toBeGreaterThan(10);
    await page.reload();
    await page.waitForSelector('#threads .thread.active');
    await expect.poll(() => page.locator('.message').count()).toBe(messages);

    await stopPlayground();
    await startPlayground();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.click('#threads .thread:has-text("What is a thread?")');
    await page.waitForSelector('.message.user img[alt="square.png"]');
    await expect.poll(() => page.locator('.message').count()).toBe(messages);
    expect(await page.locator('.message.user .author').allTextContents()).toContain('Bob');

    // A fresh thread with a short exchange between two people, for the README.
    await page.click('#new-thread');
    anthropic.enqueue({ text: 'Two slots are open next week: **Tuesday 10:00** and **Thursday 15:00**. Which suits everyone?' });
    await page.fill('#text', 'Which slot works best for our planning meeting?');
    await page.press('#text', 'Enter');
    await page.waitForSelector('.message.bot:not(.streaming) strong:has-text("Thursday 15:00")');
    await page.selectOption('#participant', 'Bob');
    await page.setInputFiles('#file', [{ name: 'bob-calendar.png', mimeType: 'image/png', buffer: solidPng(160, 90, [61, 120, 200]) }]);
    await page.waitForSelector('#pending-files img[alt="bob-calendar.png"]');
    anthropic.enqueue({
      text: 'Thanks, Bob. With your calendar, **Tuesday 10:00** is the one:\n\n| slot | Alice | Bob |\n|---|---|---|\n| Tue 10:00 | free | free |\n| Thu 15:00 | free | busy |',
    });
    await page.fill('#text', '@threadline here is my calendar, I am busy on Thursday afternoon');
    await page.press('#text', 'Enter');
    await page.waitForSelector('.message.bot:not(.streaming) td:has-text("Thu 15:00")');
    await page.selectOption('#participant', 'Alice');
    await page.setViewportSize({ width: 1200, height: 860 });
    const docs = join(ROOT, 'docs');
    mkdirSync(docs, { recursive: true });
    await page.screenshot({ path: process.env.UPDATE_SCREENSHOT === '1' ? join(docs, 'playground.png') : join(dir, 'playground.png') });
    expect(pageErrors).toEqual([]);
  });

  it('answers a question left half-answered by kill -9, once, after the restart', async () => {
    const api = `http://127.0.0.1:${port}/api`;
    const requests = anthropic.messageRequests().length;
    anthropic.enqueue({ text: 'Half an answer. never finished', stallAfterChars: 16, chunkSize: 16 });
    const created = await fetch(`${api}/threads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ author: 'Carol', text: 'survive a crash' }) });
    expect(created.status).toBe(201);
    const { threadId } = (await created.json()) as { threadId: string };
    await anthropic.waitForRequests(requests + 1);
    bot.child.kill('SIGKILL');
    await bot.exited;
    await startPlayground();
    const texts = async () => ((await (await fetch(`${api}/threads/${threadId}`)).json()) as { entries: Array<{ text: string }> }).entries.map((entry) => entry.text);
    await expect.poll(texts, { timeout: 15_000 }).toEqual(['survive a crash', 'echo: survive a crash']);
    expect(anthropic.messageRequests()).toHaveLength(requests + 2);
  });
});

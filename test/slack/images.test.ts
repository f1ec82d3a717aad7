import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IMAGE_BYTES } from '../helpers/images.js';
import { startSlackWorld, type SlackWorld } from './setup.js';

const CHANNEL = 'C0GENERAL1';
const ALICE = 'U0ALICE001';
type Block = { type: string; text?: string; source?: { type: string; file_id?: string } };
type Body = { messages: Array<{ role: string; content: Block[] }> };
const blocks = (w: SlackWorld, i: number) => (w.h.anthropic.messageRequests()[i]?.body as unknown as Body).messages.flatMap((m) => m.content);

describe('Slack private images', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  async function mentionWithFile(world: SlackWorld, text: string, file: ReturnType<SlackWorld['slack']['file']>) {
    const message = world.slack.seed(CHANNEL, ALICE, `<@${world.slack.botUserId}> ${text}`, { files: [file] });
    await world.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, files: [file] });
    return message;
  }

  it('describes a private screenshot: downloaded with the bot token, uploaded once, same block later', async () => {
    w = await startSlackWorld('http');
    const file = w.slack.file('screenshot.png', 'image/png', IMAGE_BYTES['image/png'] as Buffer, { original_w: 1280, original_h: 720 });
    const message = await mentionWithFile(w, 'what does this screenshot show?', file);
    await w.h.anthropic.waitForRequests(1);
    await w.h.core.idle();
    const image = blocks(w, 0).find((b) => b.type === 'image');
    expect(image?.source?.type).toBe('file');
    expect(w.h.anthropic.files.size).toBe(1);
    expect(w.slack.botMessages(CHANNEL, message.ts)).toHaveLength(1);
    await w.replyInThread(message.ts, ALICE, 'and the title?');
    await w.h.anthropic.waitForRequests(2);
    expect(JSON.stringify(blocks(w, 1).find((b) => b.type === 'image'))).toBe(JSON.stringify(image));
    expect(w.h.anthropic.files.size).toBe(1);
  });

  it('never sends the token to a foreign redirect host, and rejects the HTML page it gets there', async () => {
    const seen: Array<string | undefined> = [];
    const foreign = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>Sign in</html>');
    });
    foreign.listen(0, '127.0.0.1');
    await once(foreign, 'listening');
    try {
      w = await startSlackWorld('socket');
      const file = w.slack.file('diagram.png', 'image/png', IMAGE_BYTES['image/png'] as Buffer);
      w.slack.redirects.set(new URL(file.url_private_download).pathname, `http://localhost:${(foreign.address() as AddressInfo).port}/elsewhere.png`);
      const message = await mentionWithFile(w, 'explain the diagram', file);
      await w.h.anthropic.waitForRequests(1);
      await w.h.core.idle();
      expect(seen).toEqual([undefined]);
      expect(blocks(w, 0).some((b) => b.type === 'image')).toBe(false);
      const [reply] = w.slack.botMessages(CHANNEL, message.ts);
      expect(reply?.text).toMatch(/couldn't look at diagram\.png: the platform returned a web page/);
      expect(w.h.logLines.join('\n')).not.toContain(w.slack.botToken);
    } finally {
      foreign.closeAllConnections();
      await new Promise((resolve) => foreign.close(resolve));
    }
  });

  it('accepts gif and webp, notes a bmp, and sends a pdf as a document', async () => {
    w = await startSlackWorld('http');
    const files = [
      w.slack.file('a.gif', 'image/gif', IMAGE_BYTES['image/gif'] as Buffer),
      w.slack.file('b.webp', 'image/webp', IMAGE_BYTES['image/webp'] as Buffer),
      w.slack.file('c.bmp', 'image/bmp', IMAGE_BYTES['image/bmp'] as Buffer),
      w.slack.file('d.pdf', 'application/pdf', Buffer.from('%PDF-1.4')),
    ];
    const message = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> compare`, { files });
    await w.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, files });
    await w.h.anthropic.waitForRequests(1);
    const sent = blocks(w, 0);
    expect(sent.filter((b) => b.type === 'image')).toHaveLength(2);
    expect(JSON.stringify(sent)).toMatch(/c\.bmp \(image\/bmp[^)]*\) not shown/);
    expect(sent.filter((b) => b.type === 'document').map((b) => b.source?.type)).toEqual(['file']);
  });
});

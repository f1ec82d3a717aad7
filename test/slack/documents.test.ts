/**
 * Documents and message changes through the real Bolt and core: a private PDF downloaded with
 * the bot token and uploaded to the Files API once, and mentions deleted or edited before the
 * bot has taken them in.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DOCX_TYPE, docxBytes, pdfBytes } from '../helpers/documents.js';
import { startSlackWorld, type SlackWorld } from './setup.js';

const CHANNEL = 'C0GENERAL1';
const ALICE = 'U0ALICE001';
const BOB = 'U0BOB00001';
type Block = { type: string; text?: string; source?: { type: string; file_id?: string } };
type Body = { messages: Array<{ role: string; content: Block[] }> };
const blocks = (w: SlackWorld, i: number) => (w.h.anthropic.messageRequests()[i]?.body as unknown as Body).messages.flatMap((m) => m.content);
const allText = (w: SlackWorld, i: number) => JSON.stringify(blocks(w, i));

function reply(w: SlackWorld, parentTs: string, user: string, text: string, extra: Record<string, unknown> = {}) {
  const message = w.slack.seed(CHANNEL, user, text, { thread_ts: parentTs, ...extra });
  return { message, event: { type: 'message', channel_type: 'channel', user, text, ts: message.ts, thread_ts: parentTs, channel: CHANNEL, team: w.slack.team, ...extra } };
}

describe('Slack documents', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('reads a private PDF once with the bot token, uploads it once, and sends the same file block on later turns', async () => {
    w = await startSlackWorld('http');
    const pdf = w.slack.file('contract.pdf', 'application/pdf', pdfBytes(5));
    const message = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> what is the notice period?`, { files: [pdf] });
    await w.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, files: [pdf] });
    await w.h.anthropic.waitForRequests(1);
    await w.adapter.idle();
    const follow = reply(w, message.ts, ALICE, 'and the fee?');
    await w.deliver(follow.event);
    await w.h.anthropic.waitForRequests(2);
    await w.adapter.idle();
    expect(w.h.anthropic.messageRequests().map((r) => r.status)).toEqual([200, 200]);
    const first = blocks(w, 0).filter((b) => b.type === 'document');
    expect(first).toEqual([{ type: 'document', source: { type: 'file', file_id: expect.stringMatching(/^file_/) }, title: 'contract.pdf' }]);
    expect(JSON.stringify(blocks(w, 1).filter((b) => b.type === 'document'))).toBe(JSON.stringify(first));
    expect(w.h.anthropic.files.size).toBe(1);
    expect(w.slack.fileDownloads).toEqual([{ path: expect.stringContaining('/contract.pdf'), authorized: true }]);
    expect(w.slack.botMessages(CHANNEL, message.ts)).toHaveLength(2);
  });

  it('notes a "PDF" whose bytes are a sign-in page, tells the user, and never sends it', async () => {
    w = await startSlackWorld('http');
    const fake = w.slack.file('scan.pdf', 'application/pdf', Buffer.from('<!DOCTYPE html><html><body>Sign in to Slack</body></html>'));
    const message = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> what does the scan say?`, { files: [fake] });
    await w.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, files: [fake] });
    await w.h.anthropic.waitForRequests(1);
    await w.adapter.idle();
    expect(w.h.anthropic.messageRequests().map((r) => r.status)).toEqual([200]);
    expect(blocks(w, 0).some((b) => b.type === 'document')).toBe(false);
    expect(allText(w, 0)).toMatch(/scan\.pdf \(application\/pdf[^)]*\) not shown: the platform returned a web page/);
    expect(w.h.anthropic.files.size).toBe(0);
    expect(w.slack.botMessages(CHANNEL, message.ts)[0]?.text).toMatch(/couldn't look at scan\.pdf/);
  });

  it('inlines a private Word file as text', async () => {
    w = await startSlackWorld('http');
    const doc = w.slack.file('notes.docx', DOCX_TYPE, await docxBytes(['Launch is on the 14th.']));
    const message = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> when is launch?`, { files: [doc] });
    await w.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, files: [doc] });
    await w.h.anthropic.waitForRequests(1);
    expect(allText(w, 0)).toContain('[attached file notes.docx]\\n```\\nLaunch is on the 14th.\\n```');
  });
});

describe.each(['http', 'socket'] as const)('Slack message changes racing their creates (%s mode)', (mode) => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('never answers a mention deleted right after it was posted while the thread is being read, nor sends it later', async () => {
    w = await startSlackWorld(mode);
    const parent = w.slack.seed(CHANNEL, BOB, 'an old thread');
    const first = reply(w, parent.ts, ALICE, `<@${w.slack.botUserId}> first question`);
    const backfill = w.slack.hold('conversations.replies');
    await w.deliver({ ...first.event, type: 'app_mention' });
    await backfill.arrived;
    const doomed = reply(w, parent.ts, ALICE, `<@${w.slack.botUserId}> oops, wrong thread`);
    await w.deliver({ ...doomed.event, type: 'app_mention' });
    await w.deliver({ type: 'message', subtype: 'message_deleted', channel: CHANNEL, ts: w.slack.nextTs(), deleted_ts: doomed.message.ts, previous_message: { type: 'message', ts: doomed.message.ts, thread_ts: parent.ts, user: ALICE, text: doomed.message.text } });
    backfill.release();
    await w.h.anthropic.waitForRequests(1);
    await w.adapter.idle();
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests()).toHaveLength(1);
    expect(w.slack.botMessages(CHANNEL, parent.ts).map((m) => m.text)).toEqual([expect.stringMatching(/first question/)]);
    const next = reply(w, parent.ts, ALICE, `<@${w.slack.botUserId}> second question`);
    await w.deliver({ ...next.event, type: 'app_mention' });
    await w.h.anthropic.waitForRequests(2);
    expect(allText(w, 1)).not.toContain('wrong thread');
  });

  it('records a mention whose delete arrived first as deleted, and never answers it', async () => {
    w = await startSlackWorld(mode);
    const message = w.slack.seed(CHANNEL, ALICE, `<@${w.slack.botUserId}> never mind`);
    await w.deliver({ type: 'message', subtype: 'message_deleted', channel: CHANNEL, ts: w.slack.nextTs(), deleted_ts: message.ts, previous_message: { type: 'message', ts: message.ts, user: ALICE, text: message.text } });
    await w.deliver({ type: 'app_mention', user: ALICE, text: message.text, ts: message.ts, channel: CHANNEL, team: w.slack.team });
    await w.adapter.idle();
    await w.h.core.idle();
    expect(w.h.anthropic.messageRequests()).toHaveLength(0);
    expect(w.slack.botMessages(CHANNEL, message.ts)).toHaveLength(0);
  });

  it('answers a mention whose edit arrived first with the edited text', async () => {
    w = await startSlackWorld(mode);
    const parent = w.slack.seed(CHANNEL, BOB, 'a thread');
    const mention = reply(w, parent.ts, ALICE, `<@${w.slack.botUserId}> what is teh plan?`);
    const edited = `<@${w.slack.botUserId}> what is the plan for Friday?`;
    await w.deliver({ type: 'message', subtype: 'message_changed', channel: CHANNEL, ts: w.slack.nextTs(), message: { type: 'message', ts: mention.message.ts, thread_ts: parent.ts, user: ALICE, text: edited } });
    await w.deliver({ ...mention.event, type: 'app_mention' });
    await w.h.anthropic.waitForRequests(1);
    expect(allText(w, 0)).toContain('what is the plan for Friday?');
    expect(allText(w, 0)).not.toContain('teh plan');
  });
});

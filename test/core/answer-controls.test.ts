/** The answer buttons' decisions (core/answer-controls) on a real temp-file store. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AnswerControls, FORGOTTEN_TEXT } from '../../src/core/answer-controls/answer-controls.js';
import { controlId, parseControlId } from '../../src/core/answer-controls/control-ids.js';
import { replaceStoredAnswer } from '../../src/core/answer-controls/replace-answer.js';
import type { RegenerationStart } from '../../src/core/chat/regenerations.js';
import type { ControlPress } from '../../src/core/types.js';
import { Store } from '../../src/store/index.js';
import { captureLogger } from '../helpers/harness.js';
import { THREAD } from '../helpers/messages.js';

describe('control ids', () => {
  it.each([
    ['tl:stop:12', { action: 'stop', questionId: 12 }],
    ['tl:regen:7', { action: 'regen', questionId: 7 }],
    ['tl:up:1', { action: 'up', questionId: 1 }],
    [' tl:down:99 ', { action: 'down', questionId: 99 }],
    ['tl:nope:1', undefined],
    ['tl:up:', undefined],
    ['tl:up:1:2', undefined],
    ['tl:up:x', undefined],
    ['regen:5', undefined],
    ['tl:up:1234567890123456', undefined],
    ['', undefined],
  ] as const)('%j → %o', (raw, parsed) => {
    expect(parseControlId(raw)).toEqual(parsed);
  });

  it('round-trips and stays within Discord’s 100 characters', () => {
    for (const action of ['stop', 'regen', 'up', 'down'] as const) {
      const id = controlId(action, 999_999_999_999_999);
      expect(id.length).toBeLessThanOrEqual(100);
      expect(parseControlId(id)).toEqual({ action, questionId: 999_999_999_999_999 });
    }
  });
});

describe('AnswerControls', () => {
  let dir: string;
  let store: Store;
  let questionId: number;
  let answerId: number;
  let regenerate: ReturnType<typeof vi.fn<() => Promise<RegenerationStart>>>;
  let controls: AnswerControls;
  let release: () => void;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'threadline-controls-'));
    store = await Store.open({ databasePath: join(dir, 'db.sqlite') });
    const conversation = await store.conversations.findOrCreate(THREAD, 1000);
    const base = { conversationId: conversation.id, createdAt: 1000 } as const;
    questionId = await store.messages.insert({ ...base, platformMessageId: 'q1', authorId: 'u-alice', authorName: 'Alice', authorKind: 'user', role: 'user', text: 'question' }) as number;
    answerId = await store.messages.insert({ ...base, platformMessageId: 'a1', authorId: 'self', authorName: 'threadline', authorKind: 'self', role: 'assistant', text: 'answer', replyToMessageId: questionId }) as number;
    await store.messages.insert({ ...base, platformMessageId: 'a2', authorId: 'self', authorName: 'threadline', authorKind: 'self', role: 'assistant', text: '', replyToMessageId: questionId, replyPartOf: answerId });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    release = done;
    // Like Regenerations.start: one job per question at a time, open until the regeneration is over.
    let running = false;
    regenerate = vi.fn<() => Promise<RegenerationStart>>(async () => {
      if (running) return 'busy';
      running = true;
      void finished.then(() => (running = false));
      return 'started';
    });
    controls = new AnswerControls({ store, logger: captureLogger().logger, now: () => 5000, regenerate });
  });

  afterEach(async () => {
    release();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const press = (action: 'stop' | 'regen' | 'up' | 'down', actor: string, overrides: Partial<ControlPress> = {}): ReturnType<AnswerControls['press']> =>
    controls.press({ platform: 'discord', workspaceId: THREAD.workspaceId, controlId: controlId(action, questionId), actor: { id: actor, name: actor, isAdmin: actor === 'u-admin' }, ...overrides });

  it('finds the answer and all its parts from the question', async () => {
    expect(await store.answers.answerTo(questionId)).toMatchObject({ id: answerId, platformMessageIds: ['a1', 'a2'], text: 'answer' });
  });

  it.each([
    ['an id it never made', { controlId: 'tl:zap:1' }, /don't recognise/],
    ['a question that is not stored', { controlId: 'tl:regen:424242' }, /no longer have this answer/],
    ['an answer of another workspace', { workspaceId: 'guild-2' }, /no longer have this answer/],
    ['an answer of another platform', { platform: 'slack' as const }, /no longer have this answer/],
  ])('explains a press on %s', async (_name, overrides, text) => {
    expect((await press('regen', 'u-alice', overrides)).text).toMatch(text);
    expect(regenerate).not.toHaveBeenCalled();
  });

  it('Stop: only the asker or an admin, only while streaming', async () => {
    expect((await press('stop', 'u-alice')).text).toMatch(/already finished/);
    const tracked = controls.track(questionId, 'u-alice');
    expect((await press('stop', 'u-bob')).text).toMatch(/only the person who asked or an admin can stop/i);
    expect(tracked.signal.aborted).toBe(false);
    expect(await press('stop', 'u-admin')).toEqual({});
    expect(tracked.signal.aborted).toBe(true);
    tracked.release();
    expect((await press('stop', 'u-alice')).text).toMatch(/already finished/);
  });

  it('Stop follows the platform’s own stop too', () => {
    const platform = new AbortController();
    const tracked = controls.track(questionId, 'u-alice', platform.signal);
    platform.abort();
    expect(tracked.signal.aborted).toBe(true);
  });

  it('Regenerate: only the asker or an admin, not while the answer streams, and told so while a regeneration runs', async () => {
    expect((await press('regen', 'u-bob')).text).toMatch(/only the person who asked or an admin can regenerate/i);
    const tracked = controls.track(questionId, 'u-alice');
    expect((await press('regen', 'u-alice')).text).toMatch(/already being written/);
    tracked.release();
    expect(await press('regen', 'u-alice')).toEqual({});
    expect((await press('regen', 'u-admin')).text).toMatch(/already being written/);
    release();
    await vi.waitFor(async () => expect(await press('regen', 'u-admin')).toEqual({}));
  });

  it('Regenerate is refused where answers are turned off', async () => {
    const off = new AnswerControls({ store, logger: captureLogger().logger, now: () => 5000, regenerate, answersRefused: async () => 'I am turned off here.' });
    expect((await off.press({ platform: 'discord', workspaceId: THREAD.workspaceId, controlId: controlId('regen', questionId), actor: { id: 'u-alice', name: 'Alice', isAdmin: false } })).text).toBe('I am turned off here.');
    expect(regenerate).not.toHaveBeenCalled();
  });

  it('votes: anyone, the latest per person counts', async () => {
    expect((await press('down', 'u-bob')).text).toContain('👎');
    expect((await press('up', 'u-alice')).text).toContain('👍');
    expect((await press('up', 'u-bob')).text).toContain('👍');
    expect(await store.answers.voteOf(answerId, 'u-bob')).toBe('up');
    expect(await store.answers.counts('discord', THREAD.workspaceId, 0)).toEqual({ up: 2, down: 0 });
    expect(await store.answers.counts('discord', THREAD.workspaceId, 6000)).toEqual({ up: 0, down: 0 });
  });

  it('a forgotten thread takes its votes and answers with it', async () => {
    await press('up', 'u-alice');
    await store.forgetConversation((await store.conversations.find(THREAD))!.id);
    expect((await press('up', 'u-alice')).text).toBe(FORGOTTEN_TEXT);
    expect(await store.answers.counts('discord', THREAD.workspaceId, 0)).toEqual({ up: 0, down: 0 });
  });

  it('stores the viewed channel per assistant thread, titles it once, and prunes it with retention', async () => {
    await store.answers.setAssistantContext('slack', 'T1', 'D1:1.0', 'C1', '#one', 1000);
    await store.answers.setAssistantContext('slack', 'T1', 'D1:2.0', 'C2', '#two', 1000);
    await store.answers.setAssistantContext('slack', 'T1', 'D1:1.0', 'C3', '#three', 2000);
    expect(await store.answers.assistantThread('slack', 'T1', 'D1:1.0')).toEqual({ contextChannelId: 'C3', contextLabel: '#three', titled: false });
    expect(await store.answers.markTitled('slack', 'T1', 'D1:1.0', 2000)).toBe(true);
    expect(await store.answers.markTitled('slack', 'T1', 'D1:1.0', 2000)).toBe(false);
    expect(await store.answers.markTitled('slack', 'T1', 'D9:9.0', 2000)).toBe(false);
    expect((await store.prune(1500, 0)).assistantThreads).toBe(1);
    expect(await store.answers.assistantThread('slack', 'T1', 'D1:2.0')).toBeUndefined();
    expect((await store.answers.assistantThread('slack', 'T1', 'D1:1.0'))?.titled).toBe(true);
  });

  it.each([
    ['fewer parts', ['a1'], ['a1']],
    ['more parts', ['a1', 'a2', 'a3', 'a4'], ['a1', 'a2', 'a3', 'a4']],
    ['a first message posted anew', ['b1', 'b2'], ['b1', 'b2']],
  ])('replaces the stored answer with %s', async (_name, posted, expected) => {
    const old = (await store.answers.answerTo(questionId))!;
    const question = (await store.messages.get(questionId))!;
    await store.transaction((tx) => replaceStoredAnswer(tx, old, question, 'new text', posted, 6000));
    const now = (await store.answers.answerTo(questionId))!;
    expect(now.platformMessageIds).toEqual(expected);
    expect(now.text).toBe('new text');
    const assistant = (await store.messages.thread(old.conversationId)).filter((m) => m.role === 'assistant');
    expect(assistant.map((m) => m.platformMessageId)).toEqual(expected);
    expect(assistant.map((m) => m.text).join('')).toBe('new text');
  });
});

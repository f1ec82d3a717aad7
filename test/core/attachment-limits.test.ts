import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/core/request/assemble.js';
import type { HistoryTurn, ImagePart } from '../../src/core/request/types.js';
import { limitAttachments } from '../../src/core/attachment-limits.js';
import type { DocumentPart } from '../../src/core/documents/parts.js';
import { countPdfPages, isEncryptedPdf, isPdf, maxDocumentPages } from '../../src/core/documents/pdf.js';
import { modelRules } from '../../src/core/models.js';
import { validateRequest } from '../fakes/anthropic-rules.js';
import { pdfBytes } from '../helpers/documents.js';

const img = (name: string, side = 800): ImagePart => ({ name, width: side, height: side, source: { type: 'url', url: `https://cdn.example/attachments/1/${name}?ex=ffffffff&is=0&hm=sig` } });
const doc = (name: string, pages: number | null, source: DocumentPart['source'] = { type: 'file', file_id: `file_${name}` }): DocumentPart => ({ name, pages, source });
const u = (text: string, extra: Partial<HistoryTurn> = {}): HistoryTurn => ({ role: 'user', authorId: 'alice', authorName: 'Alice', text, images: [], notes: [], ...extra });
const opus = modelRules('claude-opus-4-8');
const haiku = modelRules('claude-haiku-4-5');

/** Names kept, newest turn last, from turns each carrying one image of the given side. */
function keptImages(sides: number[], rules = opus) {
  const turns = sides.map((side, i) => u(`t${i}`, { images: [img(`${i}.png`, side)] }));
  const limited = limitAttachments(turns, rules);
  return { kept: limited.turns.flatMap((t) => t.images.map((i) => i.name)), omitted: limited.omitted.map((o) => o.name) };
}

describe('limitAttachments keeps the newest', () => {
  it.each<[string, number[], number, number]>([
    ['20 large images: all at full size', Array(20).fill(3000), 20, 0],
    ['25 large images: the newest 20 at full size, not none', Array(25).fill(3000), 20, 5],
    ['25 small images: all', Array(25).fill(1000), 25, 0],
    ['a large newest image among 24 small: it and the 19 newest small', [...Array(24).fill(1000), 3000], 20, 5],
    ['a large old image among 24 small: only it is left out', [3000, ...Array(24).fill(1000)], 24, 1],
    ['over 8000 px: never sent', [9000, 800], 1, 1],
  ])('%s', (_name, sides, kept, omitted) => {
    const result = keptImages(sides);
    expect(result.kept).toHaveLength(kept);
    expect(result.omitted).toHaveLength(omitted);
    if (sides.at(-1) !== 9000) expect(result.kept.at(-1)).toBe(`${sides.length - 1}.png`);
  });

  it('caps images at the model count (100 on 200k models), newest first', () => {
    const result = keptImages(Array(110).fill(500), haiku);
    expect(result.kept).toHaveLength(100);
    expect(result.omitted).toEqual(Array.from({ length: 10 }, (_, i) => `${i}.png`));
  });

  it.each<[string, typeof opus, Array<number | null>, string[]]>([
    ['600 pages on 1M models: a 400-page and a 300-page PDF keep the newest', opus, [400, 300], ['1.pdf']],
    ['100 pages on 200k models', haiku, [60, 50], ['1.pdf']],
    ['fits together', opus, [300, 250], ['0.pdf', '1.pdf']],
    ['one PDF over the limit alone is left out, an older one that fits stays', haiku, [40, 150], ['0.pdf']],
    ['unknown page counts are assumed, not zero', haiku, Array(11).fill(null), Array.from({ length: 10 }, (_, i) => `${i + 1}.pdf`)],
  ])('%s', (_name, rules, pages, kept) => {
    const turns = pages.map((count, i) => u(`d${i}`, { documents: [doc(`${i}.pdf`, count)] }));
    const limited = limitAttachments(turns, rules);
    expect(limited.turns.flatMap((t) => (t.documents ?? []).map((d) => d.name))).toEqual(kept);
    for (const t of limited.turns) for (const note of t.notes) expect(note).toMatch(/^\[document \d+\.pdf not shown: /);
  });

  it('shares the 24 MB of inline data between images and PDFs, newest first', () => {
    const inlinePdf = (name: string) => doc(name, 1, { type: 'base64', media_type: 'application/pdf', data: 'A'.repeat(10 * 1024 * 1024) });
    const turns = [u('a', { documents: [inlinePdf('old.pdf')] }), u('b', { documents: [inlinePdf('mid.pdf')] }), u('c', { documents: [inlinePdf('new.pdf')] })];
    const limited = limitAttachments(turns, opus);
    expect(limited.omitted).toEqual([{ name: 'old.pdf', turnIndex: 0 }]);
  });
});

describe('documents in assembled requests', () => {
  const build = (turns: HistoryTurn[], model = 'claude-opus-4-8') => assemble({ rules: modelRules(model), maxTokens: 4096, system: 's', turns, budgetTokens: 150_000 });

  it('puts documents first in their user turn, with their title, and tells which of the answered turn were left out', () => {
    const turns = [u('read this', { documents: [doc('a.pdf', 3)], images: [img('x.png')] }), u('and these', { documents: [doc('big.pdf', 90), doc('b.pdf', 20)] })];
    const result = build(turns, 'claude-haiku-4-5');
    const content = result.request.messages[0]?.content ?? [];
    expect(content.map((b) => b.type)).toEqual(['document', 'image', 'text', 'document', 'text']);
    expect(content[0]).toMatchObject({ type: 'document', title: 'a.pdf' });
    expect(result.omittedFromAnswered).toEqual(['big.pdf']);
    expect(validateRequest({ ...(result.request as unknown as Record<string, unknown>), model: 'claude-haiku-4-5' })).toBeUndefined();
  });

  it('counts pages against the context budget', () => {
    const small = build([u('q', { documents: [doc('a.pdf', 1)] })]).estimatedInputTokens;
    const large = build([u('q', { documents: [doc('a.pdf', 30)] })]).estimatedInputTokens;
    expect(large - small).toBeGreaterThanOrEqual(29 * 1500);
  });

  it('a document-only message asks for a summary', () => {
    const result = build([u('', { documents: [doc('a.pdf', 2)] })]);
    expect(JSON.stringify(result.request.messages)).toContain('(sent a document without text: summarize it)');
  });
});

describe('PDF bytes', () => {
  it.each<[string, Buffer, boolean, number | null]>([
    ['a PDF', pdfBytes(7), true, 7],
    ['an HTML sign-in page', Buffer.from('<!DOCTYPE html><html>Sign in</html>'), false, null],
    ['a PDF whose pages are compressed away, with a page tree count', Buffer.from('%PDF-1.7\n1 0 obj << /Type /Pages /Kids [] /Count 42 >> endobj'), true, 42],
    ['a PDF with nothing readable', Buffer.from('%PDF-1.7\nstream xx endstream'), true, null],
  ])('%s', (_name, bytes, pdf, pages) => {
    expect(isPdf(bytes)).toBe(pdf);
    if (pdf) expect(countPdfPages(bytes)).toBe(pages);
  });

  it('counts pages kept in compressed object streams (PDF 1.5+)', () => {
    const objects = Array.from({ length: 37 }, () => `<< /Type /Page /Parent 2 0 R >>`).join('\n');
    const packed = deflateSync(Buffer.from(objects, 'latin1'));
    const pdf = Buffer.concat([
      Buffer.from(`%PDF-1.7\n5 0 obj\n<< /Type /ObjStm /N 37 /First 0 /Filter /FlateDecode /Length ${packed.length} >>\nstream\n`, 'latin1'),
      packed,
      Buffer.from('\nendstream\nendobj\n%%EOF\n', 'latin1'),
    ]);
    expect(countPdfPages(pdf)).toBe(37);
  });

  it('spots an encrypted PDF', () => {
    expect(isEncryptedPdf(Buffer.from('%PDF-1.7\n...\ntrailer << /Root 1 0 R /Encrypt 5 0 R >>\n%%EOF'))).toBe(true);
    expect(isEncryptedPdf(pdfBytes(2))).toBe(false);
  });

  it('page limit follows the context window', () => {
    expect(maxDocumentPages(opus)).toBe(600);
    expect(maxDocumentPages(haiku)).toBe(100);
  });
});

describe('the fake Messages API enforces the PDF rules (§13)', () => {
  const request = (content: unknown[], model = 'claude-opus-4-8', role = 'user') => ({ model, max_tokens: 100, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }, ...(role === 'assistant' ? [{ role, content }, { role: 'user', content: [{ type: 'text', text: 'q' }] }] : [{ role: 'assistant', content: [{ type: 'text', text: 'a' }] }, { role, content }])] });
  const base64 = (bytes: Buffer) => ({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: bytes.toString('base64') } });

  it.each<[string, Record<string, unknown>, RegExp | undefined]>([
    ['a valid PDF', request([base64(pdfBytes(3)), { type: 'text', text: 'q' }]), undefined],
    ['HTML posing as a PDF', request([base64(Buffer.from('<html>')), { type: 'text', text: 'q' }]), /PDF specified was not valid/],
    ['a document in an assistant turn', request([base64(pdfBytes(1))], 'claude-opus-4-8', 'assistant'), /not allowed in assistant messages/],
    ['101 pages on a 200k model', request([base64(pdfBytes(101)), { type: 'text', text: 'q' }], 'claude-haiku-4-5'), /maximum of 100 PDF pages/],
    ['101 pages on a 1M model', request([base64(pdfBytes(101)), { type: 'text', text: 'q' }]), undefined],
    ['601 pages on a 1M model', request([base64(pdfBytes(601)), { type: 'text', text: 'q' }]), /maximum of 600 PDF pages/],
    ['a wrong media type', request([{ type: 'document', source: { type: 'base64', media_type: 'application/msword', data: 'AAAA' } }]), /application\/pdf/],
  ])('%s', (_name, body, error) => {
    const result = validateRequest(body);
    if (error === undefined) expect(result).toBeUndefined();
    else expect(result?.message).toMatch(error);
  });
});

describe('PDFs and the context budget', () => {
  it('leaves out the older of two PDFs that would not fit the budget together, and never overruns it', () => {
    const turns = [u('old', { documents: [doc('old.pdf', 30)] }), u('new', { documents: [doc('new.pdf', 30)] })];
    const result = assemble({ rules: modelRules('claude-haiku-4-5'), maxTokens: 4096, system: 's', turns, budgetTokens: 150_000 });
    expect(result.omittedImages).toEqual(['old.pdf']);
    expect(result.estimatedInputTokens).toBeLessThan(150_000);
    expect(JSON.stringify(result.request.messages)).toMatch(/old\.pdf not shown: it does not fit in the context window/);
  });
});

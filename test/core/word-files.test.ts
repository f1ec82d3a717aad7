import { afterEach, describe, expect, it } from 'vitest';
import type { AttachmentInput } from '../../src/core/types.js';
import { DOCX_TYPE, docxBytes } from '../helpers/documents.js';
import { createCoreHarness, type Harness } from '../helpers/harness.js';
import { inbound } from '../helpers/messages.js';
import { recordingSink } from '../helpers/recording-sink.js';

type Body = { messages: Array<{ role: string; content: Array<{ type: string; text?: string }> }> };
const sentText = (h: Harness, i: number) => JSON.stringify((h.anthropic.messageRequests()[i]?.body as unknown as Body).messages);
const attachment = (name: string, mediaType: string | null, size: number): AttachmentInput => ({ id: `att-${name}`, name, mediaType, size, url: `https://files.example/${name}` });

describe('Word files', () => {
  let h: Harness;
  let downloads: string[];
  afterEach(async () => h.close());

  async function start(files: Record<string, Buffer>, textAttachmentMaxBytes?: number) {
    h = await createCoreHarness(textAttachmentMaxBytes === undefined ? {} : { textAttachmentMaxBytes });
    downloads = [];
    h.core.registerPlatform('discord', {
      urlsArePublic: false,
      async download(url) {
        downloads.push(url);
        const bytes = files[url.split('/').pop() ?? ''];
        if (bytes === undefined) throw new Error('404');
        return { bytes, contentType: DOCX_TYPE };
      },
    });
  }

  it('cuts a long document at the text size cap, says where, and reads it only once', async () => {
    const long = await docxBytes(Array.from({ length: 200 }, (_, i) => `Paragraph ${i}: ${'words '.repeat(20)}`));
    await start({ 'long.docx': long }, 2000);
    await h.core.handle(inbound('summarize', { mentionsBot: true, attachments: [attachment('long.docx', DOCX_TYPE, long.length)] }), { sink: recordingSink });
    await h.core.handle(inbound('again', { mentionsBot: true }), { sink: recordingSink });
    const text = sentText(h, 1);
    expect(text).toContain('Paragraph 0:');
    expect(text).not.toContain('Paragraph 199');
    expect(text).toMatch(/\[… cut here: the document's text is [\d.]+ KB, over the 2\.0 KB read from a file\]/);
    expect(downloads).toHaveLength(1);
  });

  it('notes a .docx that is not a Word file, and an old .doc by type', async () => {
    await start({ 'fake.docx': Buffer.from('<html>Sign in</html>') });
    const sink = recordingSink();
    await h.core.handle(inbound('read these', { mentionsBot: true, attachments: [attachment('fake.docx', DOCX_TYPE, 20), attachment('old.doc', 'application/msword', 3000)] }), { sink: () => sink });
    const text = sentText(h, 0);
    expect(text).toMatch(/fake\.docx .* not shown: it is not a Word \(\.docx\) file/);
    expect(text).toMatch(/old\.doc .* not shown: only Word files in the \.docx format are read/);
    expect(h.anthropic.messageRequests().map((r) => r.status)).toEqual([200]);
    expect(sink.finished[0]?.note).toMatch(/couldn't look at fake\.docx/);
  });
});

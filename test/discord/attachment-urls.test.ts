import { describe, expect, it } from 'vitest';
import { attachmentUrlExpiry, discordAttachmentServices } from '../../src/adapters/discord/attachment-urls.js';
import { captureLogger } from '../helpers/harness.js';

describe('Discord attachment URLs', () => {
  it.each([
    ['https://cdn.example/attachments/1/2/a.png?ex=6650a1b2&is=664f5032&hm=abc&', 0x6650a1b2 * 1000],
    ['https://cdn.example/attachments/1/2/a.png?is=664f5032&hm=abc', null],
    ['https://cdn.example/attachments/1/2/a.png?ex=zz', null],
    ['not a url', null],
  ])('expiry of %s', (url, expected) => {
    expect(attachmentUrlExpiry(url)).toBe(expected);
  });

  it('refreshes in batches of 50 and maps original → refreshed with its expiry', async () => {
    const calls: string[][] = [];
    const rest = {
      async post(_route: string, { body }: { body: unknown }) {
        const urls = (body as { attachment_urls: string[] }).attachment_urls;
        calls.push(urls);
        return { refreshed_urls: urls.filter((u) => !u.includes('gone')).map((original) => ({ original, refreshed: `${original.split('?')[0]}?ex=7fffffff&is=0&hm=new` })) };
      },
    };
    const urls = Array.from({ length: 60 }, (_, i) => `https://cdn.example/attachments/1/${i}/${i === 3 ? 'gone' : 'ok'}.png?ex=1&hm=old`);
    const fresh = await discordAttachmentServices(rest, captureLogger().logger).refreshUrls?.(urls);
    expect(calls.map((c) => c.length)).toEqual([50, 10]);
    expect(fresh?.size).toBe(59);
    expect(fresh?.get(urls[0] as string)).toEqual({ url: 'https://cdn.example/attachments/1/0/ok.png?ex=7fffffff&is=0&hm=new', expiresAt: 0x7fffffff * 1000 });
    expect(fresh?.has(urls[3] as string)).toBe(false);
  });
});

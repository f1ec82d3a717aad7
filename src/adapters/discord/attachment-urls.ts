/**
 * Discord's signed CDN links: their expiry, a batched refresh through
 * `POST /attachments/refresh-urls`, and a plain download for when the Messages API cannot
 * fetch a link itself. Lent to the core as the platform's attachment services.
 */
import type { Logger } from 'pino';
import type { PlatformServices, RefreshedUrl } from '../../core/types.js';
import { authorizedFetch } from '../../http/authorized-fetch.js';

/** Discord accepts this many URLs per refresh call. */
const REFRESH_BATCH = 50;

/** Epoch ms of a signed link's `ex` parameter (hex unix seconds), or null when it has none. */
export function attachmentUrlExpiry(url: string): number | null {
  try {
    const ex = new URL(url).searchParams.get('ex');
    if (ex === null || !/^[0-9a-f]+$/i.test(ex)) return null;
    return Number.parseInt(ex, 16) * 1000;
  } catch {
    return null;
  }
}

export interface RestPoster {
  post(route: `/${string}`, options: { body: unknown }): Promise<unknown>;
}

export function discordAttachmentServices(rest: RestPoster, logger: Logger): Omit<PlatformServices, 'replySink'> {
  return {
    urlsArePublic: true,
    async refreshUrls(urls) {
      const fresh = new Map<string, RefreshedUrl>();
      for (let start = 0; start < urls.length; start += REFRESH_BATCH) {
        const batch = urls.slice(start, start + REFRESH_BATCH);
        try {
          const answer = (await rest.post('/attachments/refresh-urls', { body: { attachment_urls: batch } })) as {
            refreshed_urls?: Array<{ original?: string; refreshed?: string }>;
          };
          for (const entry of answer.refreshed_urls ?? []) {
            if (entry.original !== undefined && entry.refreshed !== undefined) {
              fresh.set(entry.original, { url: entry.refreshed, expiresAt: attachmentUrlExpiry(entry.refreshed) });
            }
          }
        } catch (error) {
          logger.warn({ err: error, count: batch.length }, 'Discord could not refresh attachment URLs');
        }
      }
      return fresh;
    },
    async download(url, maxBytes) {
      // CDN links are public (the signature is the credential): no token goes anywhere.
      const { bytes, contentType } = await authorizedFetch(url, { token: undefined, allowHost: () => false, maxBytes });
      return { bytes, contentType };
    },
  };
}

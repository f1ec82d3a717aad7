/** Minimal byte strings with each format's magic number: the fake API and the bot sniff, nobody decodes. */
export const IMAGE_BYTES: Record<string, Buffer> = {
  'image/png': Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)]),
  'image/jpeg': Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 2)]),
  'image/gif': Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.alloc(64, 3)]),
  'image/webp': Buffer.concat([Buffer.from('RIFF', 'latin1'), Buffer.alloc(4), Buffer.from('WEBP', 'latin1'), Buffer.alloc(64, 4)]),
  'image/bmp': Buffer.concat([Buffer.from('BM', 'latin1'), Buffer.alloc(64, 5)]),
};

/** A Discord-style signed CDN URL expiring at `expiresAtMs`. */
export function signedUrl(base: string, name: string, expiresAtMs: number, signature = 'sig'): string {
  const ex = Math.floor(expiresAtMs / 1000).toString(16);
  return `${base}/attachments/100/${encodeURIComponent(name)}/${name}?ex=${ex}&is=0&hm=${signature}&`;
}

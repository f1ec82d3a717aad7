/**
 * Files people upload in the playground, kept on disk beside the database so threads still show
 * them (and the model still reads them) after a restart. Each file is `<id>` with `<id>.json`
 * holding its name and type; ids are random, so a path can never be built from user input.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ThreadlineError } from '../../errors.js';

export interface UploadMeta {
  readonly id: string;
  readonly name: string;
  readonly mediaType: string;
  readonly size: number;
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const UPLOAD_URL_PREFIX = '/api/uploads/';

export class UploadStore {
  constructor(private readonly directory: string) {
    mkdirSync(directory, { recursive: true });
  }

  async save(bytes: Uint8Array, name: string, mediaType: string): Promise<UploadMeta> {
    const meta: UploadMeta = { id: randomUUID(), name, mediaType, size: bytes.byteLength };
    await writeFile(join(this.directory, meta.id), bytes);
    await writeFile(join(this.directory, `${meta.id}.json`), JSON.stringify(meta));
    return meta;
  }

  async meta(id: string): Promise<UploadMeta | undefined> {
    if (!ID.test(id)) return undefined;
    try {
      return JSON.parse(await readFile(join(this.directory, `${id}.json`), 'utf8')) as UploadMeta;
    } catch {
      return undefined;
    }
  }

  async read(id: string): Promise<{ meta: UploadMeta; bytes: Buffer } | undefined> {
    const meta = await this.meta(id);
    if (meta === undefined) return undefined;
    return { meta, bytes: await readFile(join(this.directory, id)) };
  }

  urlOf(id: string): string {
    return `${UPLOAD_URL_PREFIX}${id}`;
  }

  /** What the core's attachment pipeline calls to read an upload (PlatformServices.download). */
  async download(url: string, maxBytes: number): Promise<{ bytes: Uint8Array; contentType: string | null }> {
    const id = url.startsWith(UPLOAD_URL_PREFIX) ? url.slice(UPLOAD_URL_PREFIX.length) : '';
    const meta = await this.meta(id);
    if (meta === undefined) throw new ThreadlineError('input_invalid', 'the uploaded file is gone');
    if (meta.size > maxBytes) throw new ThreadlineError('input_invalid', `file is ${meta.size} bytes, over the ${maxBytes}-byte limit`);
    return { bytes: await readFile(join(this.directory, id)), contentType: meta.mediaType };
  }
}

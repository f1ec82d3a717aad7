/** A database as the release before a migration wrote it: the SQLite migrations before that step. */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS_DIR } from '../../src/store/database.js';

/** Copies every migration before the one named `*_<name>.sql` into `<dir>/before` and returns that directory. */
export function migrationsBefore(dir: string, name: string): string {
  const before = join(dir, 'before');
  mkdirSync(before);
  const files = readdirSync(MIGRATIONS_DIR).filter((file) => file.endsWith('.sql')).sort();
  const step = files.findIndex((file) => file.endsWith(`_${name}.sql`));
  if (step <= 0) throw new Error(`no migration named ${name} after the first`);
  for (const file of files.slice(0, step)) copyFileSync(join(MIGRATIONS_DIR, file), join(before, file));
  return before;
}

/**
 * The architecture as a test: core is platform-free, the store is reached only through core,
 * and adapters never import each other.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  const full = join(ROOT, dir);
  let entries: string[];
  try {
    entries = readdirSync(full);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(full, entry);
    if (statSync(path).isDirectory()) return sources(relative(ROOT, path));
    return /\.(ts|mts|js)$/.test(entry) ? [path] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2]) as string);
}

function violations(dir: string, forbidden: (specifier: string, file: string) => boolean): string[] {
  return sources(dir).flatMap((file) => imports(file).filter((spec) => forbidden(spec, file)).map((spec) => `${relative(ROOT, file)} imports ${spec}`));
}

const PLATFORM_PACKAGES = /^(discord\.js|@discordjs\/|@slack\/)/;

describe('architecture boundaries', () => {
  it('finds the sources it checks (a test that reads nothing proves nothing)', () => {
    expect(sources('src/core').length).toBeGreaterThan(5);
    // The folders core was split into are checked with it.
    expect(sources('src/core/request').length).toBeGreaterThan(3);
    expect(sources('src/core/chat').length).toBeGreaterThan(5);
    expect(imports(join(ROOT, 'src/core/chat-service.ts'))).toContain('../store/index.js');
  });

  it('src/core imports no platform SDK and no adapter', () => {
    expect(violations('src/core', (spec) => PLATFORM_PACKAGES.test(spec) || spec.includes('/adapters/'))).toEqual([]);
  });

  it('src/store imports no platform SDK, adapter or core service', () => {
    expect(violations('src/store', (spec) => PLATFORM_PACKAGES.test(spec) || spec.includes('/adapters/') || /core\/(?!types\.js)/.test(spec))).toEqual([]);
  });

  it('adapters never import the store or each other', () => {
    const platforms = ['discord', 'slack', 'web'];
    expect(sources('src/adapters/web').length).toBeGreaterThan(3);
    for (const platform of platforms) {
      for (const other of platforms.filter((name) => name !== platform)) {
        expect(
          violations(`src/adapters/${platform}`, (spec) => spec.includes('/store/') || spec.includes(`/adapters/${other}`) || spec.startsWith(`../${other}/`)),
        ).toEqual([]);
      }
    }
  });

  it('no source hard-codes a platform host', () => {
    const hosts = /https:\/\/(slack\.com|discord\.com|api\.anthropic\.com)/;
    const offenders = sources('src').filter((file) => readFileSync(file, 'utf8').split('\n').some((line) => hosts.test(line) && !line.trim().startsWith('//') && !line.trim().startsWith('*')));
    expect(offenders.map((file) => relative(ROOT, file))).toEqual([]);
  });

  it('no console.log in src', () => {
    const offenders = sources('src').filter((file) => /console\.log/.test(readFileSync(file, 'utf8')));
    expect(offenders.map((file) => relative(ROOT, file))).toEqual([]);
  });
});

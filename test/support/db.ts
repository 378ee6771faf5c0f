/** Helpers for tests that open databases. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, expect } from 'vitest';

import { native } from '../../src/native/binding.js';

/** A fresh empty directory, removed by the returned cleanup. */
export function tempDir(prefix = 'shoal-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Every file below `dir`, relative, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (sub: string): void => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk('');
  return out.sort();
}

/**
 * Temp directories removed after each test, which also checks that no native memory is left:
 * call in a test file's top level, then `dir()` in tests.
 */
export function tempDirsPerTest(): () => string {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
    expect(native.totalBytes()).toBe(0);
  });
  return () => {
    const d = tempDir();
    cleanups.push(d.remove);
    return d.path;
  };
}

// The addon's file locks (native/file_lock.h), called directly: who is refused, what the
// errors carry, and that nothing but the holder's own release drops a lock.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InvalidArgumentError, IoError, LockedError, type ShoalError } from '../../src/errors.js';
import { nativeLock, type FileLockHandle } from '../../src/native/binding.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-filelock-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function caught(call: () => unknown): ShoalError {
  try {
    call();
  } catch (err) {
    return err as ShoalError;
  }
  throw new Error('expected a throw');
}

describe('lockFile / unlockFile', () => {
  it('creates the file, writes the pid, and refuses a second lock until released', () => {
    const path = join(dir, 'a');
    const held = nativeLock.lockFile(path);
    expect(readFileSync(path, 'utf8')).toBe(String(process.pid));
    // Reading the file opens and closes another descriptor: with fcntl record locks that
    // would drop the lock; a flock lock belongs to its own open only.
    const err = caught(() => nativeLock.lockFile(path));
    expect(err).toBeInstanceOf(LockedError);
    expect(err.details).toMatchObject({ pid: process.pid });
    expect(err.message).toContain(path);
    nativeLock.unlockFile(held);
    nativeLock.unlockFile(nativeLock.lockFile(path));
  });

  it('names no pid when the file holds none', () => {
    const path = join(dir, 'b');
    const held = nativeLock.lockFile(path);
    writeFileSync(path, 'not a pid'); // an operator's edit; the lock is unaffected
    const err = caught(() => nativeLock.lockFile(path));
    expect(err).toBeInstanceOf(LockedError);
    expect(err.details).not.toHaveProperty('pid');
    nativeLock.unlockFile(held);
  });

  it('probeFileLock tells a held lock from a free or missing file and writes nothing', () => {
    const path = join(dir, 'probe');
    expect(nativeLock.probeFileLock(path)).toBeNull();
    expect(() => readFileSync(path)).toThrow(/ENOENT/); // not created
    const held = nativeLock.lockFile(path);
    expect(nativeLock.probeFileLock(path)).toBe(process.pid);
    writeFileSync(path, 'x');
    expect(nativeLock.probeFileLock(path)).toBe(0); // held, naming no pid
    // The probe took and dropped nothing of the holder's: a second lock is still refused.
    expect(caught(() => nativeLock.lockFile(path))).toBeInstanceOf(LockedError);
    nativeLock.unlockFile(held);
    expect(nativeLock.probeFileLock(path)).toBeNull();
    expect(readFileSync(path, 'utf8')).toBe('x');
  });

  it('refuses a handle it did not issue, or one released already', () => {
    const held = nativeLock.lockFile(join(dir, 'c'));
    nativeLock.unlockFile(held);
    expect(caught(() => nativeLock.unlockFile(held))).toBeInstanceOf(InvalidArgumentError);
    expect(caught(() => nativeLock.unlockFile(123456 as FileLockHandle))).toBeInstanceOf(InvalidArgumentError);
    expect(caught(() => nativeLock.unlockFile(-1 as FileLockHandle))).toBeInstanceOf(InvalidArgumentError);
  });

  it('reports a file it cannot open as IoError naming the path', () => {
    const path = join(dir, 'missing-dir', 'LOCK');
    const err = caught(() => nativeLock.lockFile(path));
    expect(err).toBeInstanceOf(IoError);
    expect(err.message).toContain(path);
  });
});

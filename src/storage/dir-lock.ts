/**
 * One live process per data directory, held by an OS file lock on `<dir>/LOCK` (flock; see
 * native/file_lock.h). The kernel drops the lock when its holder dies, however it dies, so no
 * lock is ever stale and no pid is ever judged: the pid the holder writes into LOCK is for
 * operators only. Judging pids was what failed before: a reader took a LOCK not yet holding
 * its pid for stale, a stale takeover let two processes both win, and after a container
 * restart a new process with the dead owner's pid was locked out for good.
 *
 * Within one process a second open of the same directory is refused too (the kernel refuses
 * it as well, even through another path to the directory: each open is its own lock holder).
 */
import { resolve } from 'node:path';

import { LockedError } from '../errors.js';
import { nativeLock } from '../native/binding.js';
import { lockPath } from './layout.js';

const heldHere = new Set<string>();

/**
 * Takes the directory's lock; returns the function that releases it.
 * @throws {LockedError} while another process, or this one, holds the directory;
 *   {IoError} naming LOCK's path when it cannot be created or locked.
 */
export function lockDirectory(root: string): () => void {
  const dir = resolve(root);
  if (heldHere.has(dir)) {
    throw new LockedError(`${dir} is already open in this process; close it first`, { path: dir, pid: process.pid });
  }
  let handle;
  try {
    handle = nativeLock.lockFile(lockPath(dir));
  } catch (err) {
    if (!(err instanceof LockedError)) throw err;
    const pid = err.details['pid'];
    if (pid === process.pid) {
      throw new LockedError(`${dir} is already open in this process (through another path); close it first`, { path: dir, pid });
    }
    const named = typeof pid === 'number' ? ` (pid ${pid})` : '';
    throw new LockedError(`${dir} is open in another live process${named}`, typeof pid === 'number' ? { path: dir, pid } : { path: dir });
  }
  heldHere.add(dir);
  let released = false;
  // Release unlocks and closes, and never deletes LOCK: unlinking races a new opener. Another
  // process may have opened LOCK and be waiting to lock it; once we unlink and unlock, it
  // locks the unlinked file while a third process creates a fresh LOCK and locks that, and
  // both believe they own the directory.
  return () => {
    if (released) return;
    released = true;
    heldHere.delete(dir);
    nativeLock.unlockFile(handle);
  };
}

/**
 * One live process per data directory. The LOCK file holds the owner's pid; a lock whose pid
 * is no longer running (the owner crashed) is taken over. Within one process a second open of
 * the same directory is refused too.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';

import { IoError, LockedError } from '../errors.js';
import { lockPath } from './layout.js';

const heldHere = new Set<string>();

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the directory's lock; returns the function that releases it. @throws {LockedError} */
export function lockDirectory(root: string): () => void {
  const dir = resolve(root);
  const path = lockPath(dir);
  if (heldHere.has(dir)) {
    throw new LockedError(`${dir} is already open in this process; close it first`, { path: dir, pid: process.pid });
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldHere.add(dir);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        heldHere.delete(dir);
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new IoError(`${path}: cannot create lock file: ${(err as Error).message}`, { path }, { cause: err });
      }
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      // Our own pid in a lock this process does not hold: a close that could not remove the
      // file (a read-only directory), so it is ours to take again.
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isRunning(pid)) {
        throw new LockedError(`${dir} is open in another live process (pid ${pid})`, { path: dir, pid });
      }
      rmSync(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new LockedError(`${dir}: could not take the lock`, { path: dir });
}

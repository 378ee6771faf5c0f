/**
 * Whole-file reads for the coordinator, with Node's errors turned into IoError naming the path.
 * A file the manifest names but that is missing is damage, not an environment problem: it
 * becomes CorruptionError, so the one collection fails and the database opens.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

import { CorruptionError, IoError } from '../errors.js';

/** The first `bytes` bytes of a file and its size. */
export function readHead(path: string, bytes: number): { head: Buffer; size: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw readError(path, cause);
  }
  try {
    const head = Buffer.alloc(bytes);
    const got = readSync(fd, head, 0, bytes, 0);
    return { head: head.subarray(0, got), size: fstatSync(fd).size };
  } catch (cause) {
    throw readError(path, cause);
  } finally {
    closeSync(fd);
  }
}

export function readError(path: string, cause: unknown): Error {
  if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
    return new CorruptionError(`${path}: a file the manifest names is missing`, { file: path }, 'SHOAL_CORRUPT');
  }
  return new IoError(`${path}: cannot read: ${(cause as Error).message}`, { path }, { cause });
}

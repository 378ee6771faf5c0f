/**
 * Replaces a file atomically: write a temporary file beside it, fsync it, rename it over the
 * target, fsync the directory. A crash leaves the old file or the new one, never a mix.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

import { IoError } from '../errors.js';

export function writeFileAtomic(path: string, data: Uint8Array): void {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeAndSync(openSync(temp, 'w', 0o644), data);
    renameSync(temp, path);
    fsyncDirectory(dirname(path));
  } catch (cause) {
    rmSync(temp, { force: true });
    throw new IoError(`${path}: atomic write failed: ${(cause as Error).message}`, { path }, { cause });
  }
}

/** Writes all of `data` to `fd`, fsyncs it, and closes it (also on failure). */
export function writeAndSync(fd: number, data: Uint8Array): void {
  try {
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

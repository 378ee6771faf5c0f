/**
 * Copying a data directory's files for a backup: whole immutable files (segments, ids) in
 * chunks, and log files cut at an LSN. Every copy is fsynced before it counts; the caller syncs
 * the directories and writes the copy's MANIFEST last, so a copy cut short holds no manifest
 * and opens as an empty database, never as a half-copied one.
 */
import { open } from 'node:fs/promises';

import { AbortError, IoError } from '../errors.js';
import { scanRecords } from './wal-record.js';

const CHUNK = 8 * 2 ** 20;

/** Checked between chunks: an aborted copy stops within one chunk. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) throw new AbortError(`${what} was aborted`);
}

/**
 * Copies `src` to a new file `dst` (which must not exist) in 8 MiB chunks, then fsyncs it.
 * `onBytes` is told each chunk's size. Async reads and writes: the event loop keeps serving.
 * @throws {IoError} naming the file, {AbortError} when `signal` aborts.
 */
export async function copyFileSynced(src: string, dst: string, onBytes: (n: number) => void, signal?: AbortSignal): Promise<void> {
  let input;
  let output;
  try {
    input = await open(src, 'r');
    output = await open(dst, 'wx', 0o644);
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      throwIfAborted(signal, 'the backup');
      const { bytesRead } = await input.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      let written = 0;
      while (written < bytesRead) written += (await output.write(buf, written, bytesRead - written)).bytesWritten;
      onBytes(bytesRead);
    }
    await output.sync();
  } catch (cause) {
    if (cause instanceof AbortError) throw cause;
    throw new IoError(`cannot copy ${src} to ${dst}: ${(cause as Error).message}`, { path: src }, { cause });
  } finally {
    await input?.close();
    await output?.close();
  }
}

/**
 * Copies the records of log file `src` whose LSN is at most `lastLsn` to `dst`, synced, and
 * returns how many bytes of `src` that covered. Records above `lastLsn` (written after the
 * backup's barrier, possibly still being appended) are left out, and so is anything after the
 * first of them. The source is the live log: records up to `lastLsn` are durable in it before
 * this is called, so they are whole. @throws {IoError}
 */
export async function copyLogUpTo(src: string, dst: string, lastLsn: number): Promise<number> {
  let output;
  try {
    const input = await open(src, 'r');
    let buf: Buffer;
    try {
      buf = await input.readFile();
    } finally {
      await input.close();
    }
    let end = 0;
    for (const item of scanRecords(buf, 0)) {
      if (item.kind !== 'record' || item.record.lsn > lastLsn) break;
      end = item.end;
    }
    output = await open(dst, 'wx', 0o644);
    let written = 0;
    while (written < end) written += (await output.write(buf, written, end - written)).bytesWritten;
    await output.sync();
    return buf.length;
  } catch (cause) {
    throw new IoError(`cannot copy log ${src} to ${dst}: ${(cause as Error).message}`, { path: src }, { cause });
  } finally {
    await output?.close();
  }
}

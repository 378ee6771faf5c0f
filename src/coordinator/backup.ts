/**
 * Online backup: a consistent point-in-time copy of a whole database while it keeps serving.
 *
 * The point is fixed in one synchronous step (the barrier), so no write, flush or eviction runs
 * inside it: the catalog's records (each shard's file generation and `flushedLsn`) and the
 * log's last LSN `L`, and from then on no generation's files and no log file are removed until
 * the copy is done. The copy then holds every write that had its LSN by the barrier and none
 * after it, as a crash at that instant followed by recovery would: each shard's files hold the
 * writes up to its `flushedLsn` (<= L) and the copied log holds every record up to `L`, cut
 * there, which the copy's first open replays. A write is one log record, so none is half in.
 *
 * Nothing is blocked meanwhile: segment and id files are immutable once written (a new
 * generation gets a new name), so they are copied while writes, flushes and queries go on, and
 * log files are read up to `L` once the log says `L` is durable. The copy's files are fsynced
 * and its MANIFEST is written last, atomically: a backup cut short (an error, an abort) has no
 * manifest and is removed.
 *
 * A database opened 'unlogged' has no log to cut: the backup flushes first and copies what
 * that flush saved.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';

import { InvalidArgumentError, IoError } from '../errors.js';
import { fsyncDirectory } from '../storage/atomic-file.js';
import { copyFileSynced, copyLogUpTo, throwIfAborted } from '../storage/copy.js';
import { collectionDir, idsPath, metaPath, segmentPath } from '../storage/layout.js';
import { writeManifest, type CollectionRecord } from '../storage/manifest.js';
import type { Wal } from '../storage/wal.js';
import type { Catalog } from './catalog.js';
import type { ShardStore } from './shard-store.js';

export interface BackupOptions {
  /** Aborting stops the copy within one 8 MiB chunk; the partial copy is removed. */
  readonly signal?: AbortSignal;
  /** Told the bytes copied so far and the total, after each chunk. */
  readonly onProgress?: (progress: { readonly done: number; readonly total: number }) => void;
}

/** What a backup copied. */
export interface BackupReport {
  readonly path: string;
  /** The copy holds every write logged up to this LSN and none after (0: unlogged). */
  readonly lsn: number;
  readonly collections: number;
  /** Files copied (segments, id files, log files), and their bytes. */
  readonly files: number;
  readonly bytes: number;
}

export interface BackupSource {
  readonly root: string;
  readonly catalog: Catalog;
  readonly store: ShardStore;
  readonly wal: Wal | null;
  /** Saves every changed shard (used when there is no log to cut). */
  flush(): Promise<void>;
}

interface Job {
  readonly from: string;
  readonly to: string;
  readonly bytes: number;
  readonly log: boolean;
}

/**
 * Copies the database `src` into `dest` (a new or empty directory). The barrier is taken
 * before this function first awaits, so a write acknowledged before the call is in the copy.
 * @throws {InvalidArgumentError} for a destination that is not new or empty, or inside the
 *   data directory; {AbortError}; {IoError}.
 */
export async function backupDatabase(src: BackupSource, dest: string, options: BackupOptions = {}): Promise<BackupReport> {
  const { target, existed } = prepareTarget(src.root, dest);
  const logged = src.wal !== null && src.wal.durability !== 'unlogged';
  let releaseFiles = (): void => undefined;
  let releaseLog = (): void => undefined;
  try {
    if (!logged) await src.flush();
    // ---- the barrier: nothing below awaits until the retentions are taken ----
    const records = src.catalog.records();
    const lastLsn = logged ? (src.wal as Wal).lastLsn : 0;
    releaseFiles = src.store.retainFiles();
    if (logged) releaseLog = (src.wal as Wal).retain();
    // ---- end of the barrier ----
    if (logged) await (src.wal as Wal).durable(lastLsn);
    const jobs = [...shardJobs(src.root, target, records), ...(logged ? logJobs(src.wal as Wal, target, records) : [])];
    const total = jobs.reduce((n, j) => n + j.bytes, 0);
    let done = 0;
    const progress = (n: number): void => {
      done += n;
      options.onProgress?.({ done, total });
    };
    options.onProgress?.({ done, total });
    for (const dir of new Set(jobs.map((j) => join(j.to, '..')))) mkdirSync(dir, { recursive: true });
    for (const name of records.map((r) => r.name)) mkdirSync(collectionDir(target, name), { recursive: true });
    for (const job of jobs) {
      throwIfAborted(options.signal, 'the backup');
      if (job.log) {
        await copyLogUpTo(job.from, job.to, lastLsn);
        progress(job.bytes);
      } else {
        await copyFileSynced(job.from, job.to, progress, options.signal);
      }
    }
    throwIfAborted(options.signal, 'the backup');
    for (const dir of directoriesOf(target)) fsyncDirectory(dir);
    // The commit point of the copy: written last, atomically.
    writeManifest(target, { collections: records });
    return { path: target, lsn: lastLsn, collections: records.length, files: jobs.length, bytes: total };
  } catch (err) {
    // A directory the caller made (perhaps a mount point) stays, emptied.
    if (existed) for (const name of readdirSync(target)) rmSync(join(target, name), { recursive: true, force: true });
    else rmSync(target, { recursive: true, force: true });
    throw err;
  } finally {
    releaseLog();
    releaseFiles();
  }
}

/** The destination as an absolute path, created empty; whether it existed (empty) before. */
function prepareTarget(root: string, dest: string): { target: string; existed: boolean } {
  if (typeof dest !== 'string' || dest.length === 0) throw new InvalidArgumentError(`dest: must be a directory path, got ${JSON.stringify(dest)}`);
  const target = resolve(dest);
  // Inside when the way from the data directory to it does not climb out ('..' alone or as a
  // first component; a folder named '..x' inside it is still inside) and is not another drive.
  const inside = relative(resolve(root), target);
  const outside = inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside);
  if (!outside) {
    throw new InvalidArgumentError(`dest: ${target} is inside the data directory ${root}; back up to a directory outside it`);
  }
  const existed = existsSync(target);
  if (existed && (!statSync(target).isDirectory() || readdirSync(target).length > 0)) {
    throw new InvalidArgumentError(`dest: ${target} must be a new or empty directory`);
  }
  try {
    mkdirSync(target, { recursive: true });
  } catch (cause) {
    throw new IoError(`${target}: cannot create the backup directory: ${(cause as Error).message}`, { path: target }, { cause });
  }
  return { target, existed };
}

function shardJobs(root: string, target: string, records: readonly CollectionRecord[]): Job[] {
  const jobs: Job[] = [];
  for (const r of records) {
    // A failed collection's files were moved aside: the copy names the failure, as the source does.
    if (r.failure !== undefined) continue;
    r.shards.forEach((s, i) => {
      if (s.generation === 0) return;
      for (const path of s.metadata === true ? [segmentPath, idsPath, metaPath] : [segmentPath, idsPath]) {
        const from = path(root, r.name, i, s.generation);
        jobs.push({ from, to: path(target, r.name, i, s.generation), bytes: sizeOf(from), log: false });
      }
    });
  }
  return jobs;
}

/**
 * The log files that may hold a record some shard of the snapshot still needs. A file whose
 * successor's name is at most the oldest LSN needed holds only records below it (a file's
 * records are all below the next file's name), so it is not copied.
 */
function logJobs(wal: Wal, target: string, records: readonly CollectionRecord[]): Job[] {
  let needed = Infinity;
  for (const r of records) {
    if (r.failure !== undefined) continue;
    for (const s of r.shards) needed = Math.min(needed, (s.flushedLsn ?? r.createdLsn ?? 0) + 1);
  }
  const files = wal.files();
  return files
    .filter((_, i) => (files[i + 1]?.firstLsn ?? Infinity) > needed)
    .map((f) => ({ from: f.path, to: join(target, 'wal', basename(f.path)), bytes: sizeOf(f.path), log: true }));
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch (cause) {
    throw new IoError(`${path}: cannot read: ${(cause as Error).message}`, { path }, { cause });
  }
}

/** Every directory of the copy, deepest first, so each file's name is durable before its parent's. */
function directoriesOf(target: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    out.push(dir);
  };
  walk(target);
  return out;
}

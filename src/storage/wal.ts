/**
 * The write-ahead log: appends records with group commit and replays them after a crash.
 * Files live in <path>/wal/, named by the first LSN they hold; only the newest is written.
 * Appends queue; one writer drains the queue with one write and (durability 'fsync') one
 * fdatasync for everything queued, so concurrent writers share a sync. A file is removed once
 * every shard has flushed the records it holds.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { IoError } from '../errors.js';
import { fsyncDirectory, writeAndSync, writeFileAtomic } from './atomic-file.js';
import { encodeRecordParts, scanRecords, type WalRecord } from './wal-record.js';

/** What an acknowledged write promises. */
export type Durability = 'fsync' | 'none' | 'unlogged';

/**
 * A damaged stretch of a log file found during recovery: its bytes are copied aside (never
 * deleted) and cut out of the file. Named for the usual case, a torn last write.
 */
export interface TruncatedTail {
  readonly file: string;
  /** Where the damage starts in the file as recovery found it. */
  readonly offset: number;
  readonly bytes: number;
  readonly why: string;
  readonly keptAs: string;
  /**
   * Present when undamaged records follow the damage (in the same file or a later one): the
   * records lost have LSNs strictly between these two, and every record after it was replayed.
   * Absent for damage at the very end of the log.
   */
  readonly lostLsns?: { readonly after: number; readonly before: number };
}

const ROTATE_BYTES = 64 * 2 ** 20;

interface Pending {
  readonly lsn: number;
  /** The record's pieces (encodeRecordParts): its vectors are the writer's memory, not a copy. */
  readonly parts: readonly Buffer[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface LogFile {
  readonly firstLsn: number;
  lastLsn: number;
  readonly path: string;
}

export class Wal {
  readonly durability: Durability;
  #dir: string;
  #files: LogFile[];
  #handle: FileHandle | null = null;
  #size = 0;
  #lastLsn: number;
  #queue: Pending[] = [];
  /** Every file operation (writes, syncs, rotation, removal, close) runs on this chain, in order. */
  #io: Promise<void> = Promise.resolve();
  #drainScheduled = false;
  #failed: unknown = null;
  /** Every record up to this LSN is as durable as `durability` promises. */
  #durableLsn: number;
  #durableWaiters: { lsn: number; resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** Backups copying log files: while any runs, no file is removed (removeFlushed keeps them). */
  #retained = 0;

  private constructor(dir: string, durability: Durability, files: LogFile[], lastLsn: number) {
    this.#dir = dir;
    this.durability = durability;
    this.#files = files;
    this.#lastLsn = lastLsn;
    this.#durableLsn = lastLsn;
  }

  /**
   * Opens the log in `root`/wal: replays every undamaged record of every file in LSN order,
   * cuts damaged stretches out of the files (reported through `onTruncated`, bytes kept aside),
   * and starts a new file for appends.
   *
   * Damage costs only the records it covers: reading resumes at the next whole record, and
   * later files are read as usual. That is sound because a record is a whole batch with its
   * own checksum, and replay applies adds as upserts and skips deletes of absent ids, so a
   * later record's effect does not depend on the lost one having been applied.
   */
  static async open(
    root: string,
    durability: Durability,
    /**
     * New LSNs start above this too: flushed files may hold writes whose records were lost. It
     * does not filter replay; each shard skips the records its own files already hold.
     */
    lsnFloor: number,
    replay: (record: WalRecord) => Promise<void>,
    onTruncated: (tail: TruncatedTail) => void,
  ): Promise<Wal> {
    const dir = join(root, 'wal');
    mkdirSync(dir, { recursive: true });
    const entries = readdirSync(dir);
    // A rewrite cut short by a crash: the file it was to replace is still whole.
    for (const n of entries) if (/^\d{16}\.log\.tmp-/.test(n)) rmSync(join(dir, n), { force: true });
    const names = entries.filter((n) => /^\d{16}\.log$/.test(n)).sort();
    const files: LogFile[] = [];
    let lastLsn = 0;
    // Damage not yet reported, waiting for the next record's LSN to bound what it lost.
    const unreported: TruncatedTail[] = [];
    for (const name of names) {
      const path = join(dir, name);
      const buf = readFileSync(path);
      const file: LogFile = { firstLsn: Number(name.slice(0, 16)), lastLsn: 0, path };
      const good: [number, number][] = [];
      for (const item of scanRecords(buf, lastLsn)) {
        if (item.kind === 'damaged') {
          const aside = item.end === buf.length ? `${path}.tail` : `${path}.damaged-${item.offset}`;
          const keptAs = keepAside(aside, buf.subarray(item.offset, item.end));
          unreported.push({ file: path, offset: item.offset, bytes: item.end - item.offset, why: item.why, keptAs });
          continue;
        }
        for (const d of unreported.splice(0)) onTruncated({ ...d, lostLsns: { after: lastLsn, before: item.record.lsn } });
        await replay(item.record);
        lastLsn = file.lastLsn = item.record.lsn;
        good.push([item.offset, item.end]);
      }
      // Only now, after its records were replayed, so that a failed open leaves the file whole.
      cutOut(path, buf, good);
      files.push(file);
    }
    for (const d of unreported) onTruncated(d);
    // Above every file's name too: after a cut-off tail, a file named by a rotation (which
    // counts queued records that it then holds, so its name exceeds its first LSN) may be above
    // every LSN replayed, and a new file must not sort before the records it follows.
    const named = files.reduce((max, f) => Math.max(max, f.firstLsn - 1), 0);
    const wal = new Wal(dir, durability, files, Math.max(lsnFloor, lastLsn, named));
    if (durability !== 'unlogged') await wal.#startFile();
    return wal;
  }

  get lastLsn(): number {
    return this.#lastLsn;
  }

  /** True once a write, sync or new file failed: every later append is refused until a reopen. */
  get failed(): boolean {
    return this.#failed !== null;
  }

  /**
   * Appends one record and resolves when it is as durable as `durability` promises: written
   * and fdatasync'd ('fsync'), or written to the OS ('none'). Records are written in LSN order.
   * @throws {IoError} if the log cannot be written; the log then refuses further appends.
   */
  append(record: Omit<WalRecord, 'lsn'>): { lsn: number; durable: Promise<void> } {
    const lsn = ++this.#lastLsn;
    if (this.durability === 'unlogged') return { lsn, durable: Promise.resolve() };
    if (this.#failed !== null) return { lsn, durable: Promise.reject(this.#broken()) };
    const parts = encodeRecordParts({ ...record, lsn });
    const durable = new Promise<void>((resolve, reject) => this.#queue.push({ lsn, parts, resolve, reject }));
    // The newest file will hold this record (a rotation before it is written names the next
    // file from #lastLsn, which counts it too), so it must not be removed before `lsn` is flushed.
    (this.#files[this.#files.length - 1] as LogFile).lastLsn = lsn;
    if (!this.#drainScheduled) {
      this.#drainScheduled = true;
      this.#run(() => this.#drain());
    }
    return { lsn, durable };
  }

  /**
   * Resolves once every record up to `lsn` is durable. A shard is saved only after this for its
   * applied LSN: its files must never hold a write the log could still lose, or a crash could
   * keep one shard's part of a batch and drop the others'.
   */
  durable(lsn: number): Promise<void> {
    if (this.durability === 'unlogged' || lsn <= this.#durableLsn) return Promise.resolve();
    if (this.#failed !== null) return Promise.reject(this.#broken());
    return new Promise((resolve, reject) => this.#durableWaiters.push({ lsn, resolve, reject }));
  }

  /**
   * Keeps every log file in place until the returned function is called (a backup reads them).
   * Files that became removable meanwhile go at the next removeFlushed after it.
   */
  retain(): () => void {
    this.#retained++;
    let released = false;
    return () => {
      if (!released) this.#retained--;
      released = true;
    };
  }

  /** The log files now, oldest first, with the first LSN each may hold (from its name). */
  files(): { path: string; firstLsn: number }[] {
    return this.#files.map((f) => ({ path: f.path, firstLsn: f.firstLsn }));
  }

  /** Removes log files whose records every shard has flushed (all below `neededLsn`). */
  removeFlushed(neededLsn: number): Promise<void> {
    return this.#run(async () => {
      if (this.#retained > 0) return;
      if (this.durability === 'unlogged') {
        // No file is written now; files left from a logged session go once flushed.
        const keep = this.#files.filter((f) => f.lastLsn >= neededLsn);
        for (const f of this.#files) if (!keep.includes(f)) rmSync(f.path, { force: true });
        this.#files = keep;
        return;
      }
      const current = this.#files[this.#files.length - 1];
      if (current !== undefined && current.lastLsn < neededLsn && this.#size > 0 && this.#queue.length === 0) await this.#startFile();
      const keep: LogFile[] = [];
      for (const f of this.#files) {
        if (f !== this.#files[this.#files.length - 1] && f.lastLsn < neededLsn) rmSync(f.path, { force: true });
        else keep.push(f);
      }
      if (keep.length !== this.#files.length) fsyncDirectory(this.#dir);
      this.#files = keep;
    });
  }

  /** Waits for queued appends, then closes the file. */
  close(): Promise<void> {
    return this.#run(async () => {
      await this.#handle?.close();
      this.#handle = null;
    });
  }

  /** Runs `op` after every file operation queued before it. */
  #run(op: () => Promise<void>): Promise<void> {
    const run = this.#io.then(op);
    this.#io = run.catch(() => undefined);
    return run;
  }

  /** Writes everything queued, group by group; new appends during a sync join the next group. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0);
      try {
        if (this.#failed !== null) throw this.#broken();
        const handle = this.#handle;
        if (handle === null) throw new Error('the log file is closed');
        const written = await writeAll(handle, batch.flatMap((p) => p.parts));
        if (this.durability === 'fsync') await handle.datasync();
        this.#size += written;
        for (const p of batch) p.resolve();
        this.#durableLsn = Math.max(this.#durableLsn, (batch[batch.length - 1] as Pending).lsn);
        const ready = this.#durableWaiters.filter((w) => w.lsn <= this.#durableLsn);
        this.#durableWaiters = this.#durableWaiters.filter((w) => w.lsn > this.#durableLsn);
        for (const w of ready) w.resolve();
      } catch (cause) {
        this.#fail(cause);
        for (const p of batch) p.reject(this.#broken());
      }
      // A failed rotation fails the log (#startFile records it); the loop then rejects what is
      // queued instead of leaving it, and every later append, waiting for a drain that never ends.
      if (this.#size >= ROTATE_BYTES && this.#failed === null) await this.#startFile().catch(() => undefined);
    }
    this.#drainScheduled = false;
  }

  #fail(cause: unknown): void {
    this.#failed ??= cause;
    for (const w of this.#durableWaiters.splice(0)) w.reject(this.#broken());
  }

  #broken(): IoError {
    return new IoError(`write-ahead log in ${this.#dir} failed (${(this.#failed as Error).message}); reopen the database`, { path: this.#dir }, { cause: this.#failed });
  }

  /** Starts the file that the next records go to (named by the next LSN). */
  async #startFile(): Promise<void> {
    await this.#handle?.close();
    const firstLsn = this.#lastLsn + 1;
    const path = join(this.#dir, `${String(firstLsn).padStart(16, '0')}.log`);
    try {
      closeSync(openSync(path, 'a'));
      fsyncDirectory(this.#dir);
      this.#handle = await open(path, 'a');
    } catch (cause) {
      // The previous file is closed already: nothing can be appended until a reopen.
      this.#handle = null;
      const err = new IoError(`${path}: cannot create log file: ${(cause as Error).message}`, { path }, { cause });
      this.#fail(err);
      throw err;
    }
    this.#size = 0;
    // A file that already existed (a reopened empty one) is replaced in the list.
    this.#files = this.#files.filter((f) => f.path !== path);
    this.#files.push({ firstLsn, lastLsn: this.#lastLsn, path });
  }
}

/**
 * Copies damaged bytes to `<base>-<ms>` (the first such name not taken), synced, so they
 * outlive their removal from the log.
 */
function keepAside(base: string, bytes: Uint8Array): string {
  for (let ms = Date.now(); ; ms++) {
    const path = `${base}-${ms}`;
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw cause;
    }
    writeAndSync(fd, bytes);
    return path;
  }
}

/**
 * Leaves only the spans `good` (the undamaged records, in order) in a log file whose damaged
 * bytes were kept aside. A damaged tail is truncated; damage with records after it needs a
 * rewrite (atomic), because those records must stay in the log until their shards are saved.
 */
/**
 * Writes every piece in order at the file's position with writev (no concatenated copy),
 * continuing after a short write; returns the bytes written.
 */
async function writeAll(handle: FileHandle, parts: readonly Buffer[]): Promise<number> {
  const total = parts.reduce((n, b) => n + b.length, 0);
  let pending = parts.filter((b) => b.length > 0);
  let written = 0;
  while (pending.length > 0) {
    // writev takes at most IOV_MAX (1024) buffers at once.
    const { bytesWritten } = await handle.writev(pending.slice(0, 1024));
    written += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const b of pending) {
      if (skip >= b.length) skip -= b.length;
      else {
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    pending = rest;
  }
  if (written !== total) throw new Error(`log write: ${written} of ${total} bytes`);
  return written;
}

function cutOut(path: string, buf: Buffer, good: readonly (readonly [number, number])[]): void {
  let prefix = 0;
  for (const [from, to] of good) {
    if (from !== prefix) break;
    prefix = to;
  }
  if (prefix === buf.length) return; // nothing damaged
  fsyncDirectory(dirname(path)); // the names of the kept copies, before the bytes leave the log
  if (good.length === 0 || prefix === (good[good.length - 1] as readonly [number, number])[1]) {
    truncateSync(path, prefix);
  } else {
    writeFileAtomic(path, Buffer.concat(good.map(([from, to]) => buf.subarray(from, to))));
  }
}

/** Moves a damaged file aside (never deletes it) and returns its new name. */
export function moveAside(path: string): string {
  const aside = `${path}.corrupt-${Date.now()}`;
  if (existsSync(path)) renameSync(path, aside);
  return aside;
}

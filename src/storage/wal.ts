/**
 * The write-ahead log: appends records with group commit and replays them after a crash.
 * Files live in <path>/wal/, named by the first LSN they hold; only the newest is written.
 * Appends queue; one writer drains the queue with one write and (durability 'fsync') one
 * fdatasync for everything queued, so concurrent writers share a sync. A file is removed once
 * every shard has flushed the records it holds.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

import { IoError } from '../errors.js';
import { fsyncDirectory } from './atomic-file.js';
import { decodeRecord, encodeRecord, type WalRecord } from './wal-record.js';

/** What an acknowledged write promises. */
export type Durability = 'fsync' | 'none' | 'unlogged';

/** A damaged tail cut off during recovery (the bytes are kept aside, never deleted). */
export interface TruncatedTail {
  readonly file: string;
  readonly offset: number;
  readonly bytes: number;
  readonly why: string;
  readonly keptAs: string;
}

const ROTATE_BYTES = 64 * 2 ** 20;

interface Pending {
  readonly lsn: number;
  readonly bytes: Buffer;
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

  private constructor(dir: string, durability: Durability, files: LogFile[], lastLsn: number) {
    this.#dir = dir;
    this.durability = durability;
    this.#files = files;
    this.#lastLsn = lastLsn;
    this.#durableLsn = lastLsn;
  }

  /**
   * Opens the log in `root`/wal: reads every record (calling `replay` in LSN order), cuts off a
   * damaged tail (reported through `onTruncated`), and starts a new file for appends.
   */
  static async open(
    root: string,
    durability: Durability,
    /** New LSNs start above this too: flushed files may hold writes whose records were lost. */
    lsnFloor: number,
    replay: (record: WalRecord) => Promise<void>,
    onTruncated: (tail: TruncatedTail) => void,
  ): Promise<Wal> {
    const dir = join(root, 'wal');
    mkdirSync(dir, { recursive: true });
    const names = readdirSync(dir).filter((n) => /^\d{16}\.log$/.test(n)).sort();
    const files: LogFile[] = [];
    let lastLsn = lsnFloor;
    let damaged = false;
    for (const name of names) {
      const path = join(dir, name);
      if (damaged) {
        // Records after a damaged one cannot be trusted to follow it: keep the file aside.
        const keptAs = moveAside(path);
        onTruncated({ file: path, offset: 0, bytes: statSync(keptAs).size, why: 'follows a damaged log file', keptAs });
        continue;
      }
      const buf = readFileSync(path);
      const file: LogFile = { firstLsn: Number(name.slice(0, 16)), lastLsn: 0, path };
      let offset = 0;
      for (;;) {
        const d = decodeRecord(buf, offset);
        if (d.kind === 'end') break;
        if (d.kind === 'bad') {
          const keptAs = `${path}.tail-${Date.now()}`;
          writeFileSync(keptAs, buf.subarray(d.offset));
          truncateSync(path, d.offset);
          onTruncated({ file: path, offset: d.offset, bytes: buf.length - d.offset, why: d.why, keptAs });
          damaged = true;
          break;
        }
        await replay(d.record);
        file.lastLsn = d.record.lsn;
        lastLsn = Math.max(lastLsn, d.record.lsn);
        offset = d.next;
      }
      files.push(file);
    }
    const wal = new Wal(dir, durability, files, lastLsn);
    if (durability !== 'unlogged') await wal.#startFile();
    return wal;
  }

  get lastLsn(): number {
    return this.#lastLsn;
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
    const bytes = encodeRecord({ ...record, lsn });
    const durable = new Promise<void>((resolve, reject) => this.#queue.push({ lsn, bytes, resolve, reject }));
    // The newest file will hold this record (a rotation before it is written names the next
    // file from #lastLsn, which counts it too), so it must not be removed before `lsn` is flushed.
    (this.#files[this.#files.length - 1] as LogFile).lastLsn = lsn;
    if (!this.#drainScheduled) {
      this.#drainScheduled = true;
      this.#run(() => this.#drain());
    }
    return { lsn, durable };
  }

  /** True once an append or sync failed: the log then refuses further appends. */
  get failed(): boolean {
    return this.#failed !== null;
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

  /** Removes log files whose records every shard has flushed (all below `neededLsn`). */
  removeFlushed(neededLsn: number): Promise<void> {
    return this.#run(async () => {
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
        const bytes = batch.length === 1 ? (batch[0] as Pending).bytes : Buffer.concat(batch.map((p) => p.bytes));
        const handle = this.#handle as FileHandle;
        let written = 0;
        while (written < bytes.length) written += (await handle.write(bytes, written, bytes.length - written)).bytesWritten;
        if (this.durability === 'fsync') await handle.datasync();
        this.#size += bytes.length;
        for (const p of batch) p.resolve();
        this.#durableLsn = Math.max(this.#durableLsn, (batch[batch.length - 1] as Pending).lsn);
        const ready = this.#durableWaiters.filter((w) => w.lsn <= this.#durableLsn);
        this.#durableWaiters = this.#durableWaiters.filter((w) => w.lsn > this.#durableLsn);
        for (const w of ready) w.resolve();
      } catch (cause) {
        this.#failed ??= cause;
        for (const p of batch) p.reject(this.#broken());
        for (const w of this.#durableWaiters.splice(0)) w.reject(this.#broken());
      }
      if (this.#size >= ROTATE_BYTES && this.#failed === null) await this.#startFile();
    }
    this.#drainScheduled = false;
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
      throw new IoError(`${path}: cannot create log file: ${(cause as Error).message}`, { path }, { cause });
    }
    this.#size = 0;
    // A file that already existed (a reopened empty one) is replaced in the list.
    this.#files = this.#files.filter((f) => f.path !== path);
    this.#files.push({ firstLsn, lastLsn: this.#lastLsn, path });
  }
}

/** Moves a damaged file aside (never deletes it) and returns its new name. */
export function moveAside(path: string): string {
  const aside = `${path}.corrupt-${Date.now()}`;
  if (existsSync(path)) renameSync(path, aside);
  return aside;
}

/**
 * The database's machinery behind the Shoal facade: the directory lock, the worker pool, the
 * log, the catalog, the shard store, the governor and the registry of collections, and the
 * steps that span them: open with recovery and warm start, create and delete of collections,
 * flush, and close.
 *
 * Names: a name has at most one create or delete in progress (#pending); a create of a name
 * whose delete is still running waits for it, so the new collection's createdLsn is taken
 * after every write of the old one got its LSN, and the old one's folder is gone before the
 * new one's is made.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import type { Clock } from '../budget/clock.js';
import { Governor, type Emit } from '../budget/governor.js';
import { RANK_OF, type Priority } from '../budget/policy.js';
import type { Config } from '../config.js';
import { ClosedError, CorruptionError, IoError, NotFoundError, ShoalError, AlreadyExistsError } from '../errors.js';
import { Pool } from '../pool/pool.js';
import { lockDirectory } from '../storage/dir-lock.js';
import { collectionDir } from '../storage/layout.js';
import { readManifest, type CollectionRecord, type HotShard } from '../storage/manifest.js';
import { Wal, type Durability, type TruncatedTail } from '../storage/wal.js';
import { backupDatabase, type BackupOptions, type BackupReport } from './backup.js';
import { Catalog } from './catalog.js';
import { CollectionCore, type CoreHost } from './collection-core.js';
import { NativeAccounting } from './native-accounting.js';
import { ShardStore, type Slot } from './shard-store.js';
import { snapshotStats, type ShoalStats } from './stats.js';

/** What recovery did when the database opened. */
export interface RecoveryReport {
  /** Log records re-applied to shards whose files did not hold them. */
  readonly replayedRecords: number;
  /** Damaged log tails cut off (their bytes kept beside the log, never deleted). */
  readonly truncatedTails: readonly TruncatedTail[];
}

export interface DatabaseOptions {
  readonly path: string;
  readonly ephemeral: boolean;
  readonly config: Config;
  readonly clock: Clock;
  readonly durability: Durability;
  readonly warmStart: boolean;
  readonly emit: Emit;
}

export class Database {
  readonly path: string;
  readonly ephemeral: boolean;
  readonly governor: Governor;
  readonly #pool: Pool;
  readonly #catalog: Catalog;
  readonly #store: ShardStore;
  readonly #accounting: NativeAccounting;
  readonly #unlock: () => void;
  #wal: Wal | null = null;
  #cores = new Map<string, CollectionCore>();
  #pending = new Map<string, Promise<void>>();
  #active = 0;
  #idle: (() => void) | null = null;
  #closing: Promise<void> | null = null;
  #warming: Promise<void> = Promise.resolve();
  #recovery: RecoveryReport = { replayedRecords: 0, truncatedTails: [] };
  /** Backups in progress: a deleted collection's folder stays until they are done with it. */
  #backups = new Set<Promise<unknown>>();
  readonly #host: CoreHost;

  private constructor(options: DatabaseOptions, catalog: Catalog, unlock: () => void) {
    this.path = options.path;
    this.ephemeral = options.ephemeral;
    this.#unlock = unlock;
    this.#catalog = catalog;
    const config = options.config;
    this.#pool = new Pool(config.threads);
    this.governor = new Governor(config, options.clock, options.emit);
    this.#accounting = new NativeAccounting(config.threads);
    this.#accounting.followLimit(config.memoryLimitBytes);
    const log = {
      lastLsn: () => this.#wal?.lastLsn ?? 0,
      failed: () => this.#wal?.failed ?? false,
      durable: (lsn: number) => this.#wal?.durable(lsn) ?? Promise.resolve(),
      removeFlushed: (needed: number) => this.#wal?.removeFlushed(needed) ?? Promise.resolve(),
    };
    this.#store = new ShardStore({
      root: this.path, pool: this.#pool, log, catalog, governor: this.governor, accounting: this.#accounting, clock: options.clock, threads: config.threads,
    });
    this.governor.attach(this.#store, () => {
      this.#store.dropIdleStaging();
      this.#accounting.trimAllocator();
    });
    this.#host = {
      threads: config.threads,
      log: (record) => (this.#wal as Wal).append(record),
      saveSettings: async (core) => {
        this.#catalog.update(core.name, { priority: core.priority, quotaBytes: core.quotaBytes });
        await this.#catalog.commit();
      },
    };
  }

  /** Locks the directory, reads the manifest, sweeps leftovers, replays the log. */
  static async open(options: DatabaseOptions): Promise<Database> {
    const unlock = lockDirectory(options.path);
    let db: Database | null = null;
    try {
      const catalog = new Catalog(options.path, readManifest(options.path));
      db = new Database(options, catalog, unlock);
      for (const record of catalog.records()) db.#cores.set(record.name, db.#materialize(record));
      db.#sweep();
      await db.#recover(options.durability);
      if (options.warmStart && catalog.hot.length > 0) db.#warming = db.#warmStart(catalog.hot);
      return db;
    } catch (err) {
      if (db !== null) await db.#abandon();
      else unlock();
      throw err;
    }
  }

  get recovery(): RecoveryReport {
    return this.#recovery;
  }

  get threads(): number {
    return this.governor.config.threads;
  }

  warmedUp(): Promise<void> {
    return this.#warming;
  }

  get closing(): boolean {
    return this.#closing !== null;
  }

  /** Runs one database-level operation, refusing it once closing has begun. */
  async operation<T>(work: () => Promise<T>): Promise<T> {
    this.checkOpen();
    this.#active++;
    try {
      return await work();
    } finally {
      if (--this.#active === 0) this.#idle?.();
    }
  }

  checkOpen(): void {
    if (this.#closing !== null) throw new ClosedError('the database is closed');
  }

  // ---- collections ----------------------------------------------------------------------------

  /** Creates a collection; waits for a create or delete of the same name in progress. */
  async createCollection(record: Omit<CollectionRecord, 'createdLsn'>): Promise<CollectionCore> {
    const name = record.name;
    // Checked and claimed in one synchronous step: a create or delete that starts after this
    // one waits for it.
    while (this.#pending.has(name)) await this.#pending.get(name);
    if (this.#cores.has(name)) throw new AlreadyExistsError(`collection ${JSON.stringify(name)} already exists`, { collection: name });
    return this.#exclusively(name, async () => {
      const full: CollectionRecord = { ...record, createdLsn: this.#wal?.lastLsn ?? 0 };
      const dir = collectionDir(this.path, name);
      io(dir, 'create the collection folder', () => mkdirSync(dir, { recursive: true }));
      this.#catalog.add(full);
      try {
        await this.#catalog.commit();
      } catch (err) {
        // Not committed: the collection never existed. Nothing was written into its folder.
        this.#catalog.remove(name);
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      const core = this.#materialize(full);
      this.#cores.set(name, core);
      return core;
    });
  }

  /** The live collection of that name (not one being created or deleted). @throws {NotFoundError} */
  getCollection(name: string): CollectionCore {
    const core = this.#cores.get(name);
    if (core === undefined) throw new NotFoundError(`collection ${JSON.stringify(name)} does not exist`, { collection: name });
    return core;
  }

  listCollections(): string[] {
    return [...this.#cores.keys()].sort();
  }

  hasCollection(name: string): boolean {
    return this.#cores.has(name);
  }

  /**
   * Deletes a collection: new calls on it fail with NotFoundError, calls in flight finish, the
   * manifest drops it, then its memory and its folder go. If the manifest cannot be written
   * nothing changes.
   */
  async deleteCollection(name: string): Promise<void> {
    while (this.#pending.has(name)) await this.#pending.get(name);
    const core = this.getCollection(name);
    await this.#exclusively(name, async () => {
      await core.stop('deleted');
      const record = this.#catalog.get(name);
      this.#catalog.remove(name);
      try {
        await this.#catalog.commit();
      } catch (err) {
        if (record !== undefined) this.#catalog.add(record);
        core.resume();
        throw err;
      }
      this.#cores.delete(name);
      await this.#store.drop(core.slots);
      // A backup that began before the commit copies this collection's files.
      await Promise.allSettled([...this.#backups]);
      // Committed: the collection is gone. A folder that cannot be removed now is swept at the
      // next open, so this is not the caller's failure.
      try {
        rmSync(collectionDir(this.path, name), { recursive: true, force: true });
      } catch (err) {
        process.emitWarning(`shoal: could not remove the folder of deleted collection ${name}: ${(err as Error).message}`, 'ShoalWarning');
      }
    });
  }

  // ---- database-wide steps ----------------------------------------------------------------------

  /** Saves every changed shard and commits the manifest. */
  async flush(): Promise<void> {
    const obsolete: [Slot, number][] = [];
    for (const core of this.#cores.values()) {
      if (core.failure !== null) continue;
      obsolete.push(...(await this.#store.flushCollection(core.slots)));
    }
    await this.#store.commit(obsolete);
    // With a failed log the in-memory state is now in the segment files; the log's error still
    // stands (docs/errors.md, SHOAL_IO).
    if (this.#wal?.failed === true) await this.#wal.durable(this.#wal.lastLsn);
  }

  /**
   * Copies the whole database, as it is at the call, into `dest` while it keeps serving
   * (coordinator/backup.ts). The point in time is fixed before this first awaits.
   */
  backup(dest: string, options: BackupOptions = {}): Promise<BackupReport> {
    const run = backupDatabase(
      { root: this.path, catalog: this.#catalog, store: this.#store, wal: this.#wal, flush: () => this.flush() },
      dest,
      options,
    );
    this.#backups.add(run);
    const forget = (): void => void this.#backups.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Unloads every collection (saving unsaved writes); pinned ones too. */
  async unloadAll(): Promise<void> {
    for (const core of [...this.#cores.values()]) await core.unload();
  }

  async configure(next: Config): Promise<void> {
    await this.governor.configure(next);
    this.#accounting.followLimit(next.memoryLimitBytes);
  }

  stats(): ShoalStats {
    return snapshotStats(this.governor, this.#store, this.#accounting, [...this.#cores.values()], this.#wal?.failed ?? false, this.#pool.workerHeaps());
  }

  /** Stops new calls, waits for calls in flight, flushes (unless ephemeral), frees everything. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  // ---- internals ------------------------------------------------------------------------------


  async #exclusively<T>(name: string, work: () => Promise<T>): Promise<T> {
    let done!: () => void;
    this.#pending.set(name, new Promise<void>((resolve) => (done = resolve)));
    try {
      return await work();
    } finally {
      this.#pending.delete(name);
      done();
    }
  }

  #materialize(record: CollectionRecord): CollectionCore {
    const core = new CollectionCore(
      {
        name: record.name,
        spec: { dim: record.dim, space: record.space, M: record.M, efConstruction: record.efConstruction },
        efSearch: record.efSearch,
        createdAtMs: record.createdAtMs,
        createdLsn: record.createdLsn ?? 0,
        priority: record.priority ?? 'medium',
        quotaBytes: record.quotaBytes ?? 0,
      },
      this.#store,
      this.#host,
    );
    core.slots = this.#store.open(core, record.shards, record.createdLsn ?? 0);
    if (record.failure !== undefined) {
      core.fail(new CorruptionError(record.failure.message, { collection: record.name, file: record.failure.file, keptAs: record.failure.keptAs }));
    }
    return core;
  }

  /** Replays the log into shards whose files do not hold its records yet. */
  async #recover(durability: Durability): Promise<void> {
    let floor = 0;
    for (const c of this.#cores.values()) {
      floor = Math.max(floor, c.createdLsn);
      for (const s of c.slots) floor = Math.max(floor, s.flushedLsn);
    }
    let replayed = 0;
    const tails: TruncatedTail[] = [];
    this.#wal = await Wal.open(
      this.path,
      durability,
      floor,
      async (record) => {
        const core = this.#cores.get(record.collection);
        // Deleted, an earlier collection of that name, or one whose files are damaged.
        if (core === undefined || record.lsn <= core.createdLsn || core.failure !== null) return;
        try {
          await core.replay(record);
        } catch (err) {
          // A shard whose files are damaged fails its own collection (quarantined, recorded in
          // the manifest); the other collections open with every acknowledged write.
          if (core.failure !== null) return;
          throw err;
        }
        replayed++;
      },
      (tail) => {
        tails.push(tail);
        process.emitWarning(
          `shoal: cut off ${tail.bytes} damaged bytes at offset ${tail.offset} of ${tail.file} (${tail.why}); they are kept in ${tail.keptAs}` +
            (tail.lostLsns === undefined ? '' : `; the writes logged between LSN ${tail.lostLsns.after} and ${tail.lostLsns.before} (exclusive) are lost`),
          'ShoalRecoveryWarning',
        );
      },
    );
    this.#recovery = { replayedRecords: replayed, truncatedTails: tails };
  }

  /**
   * Warm start: re-admits the shards resident at the last clean close, highest priority and
   * most recent first, only while they fit without evicting anything; the rest load on first
   * use. One shard at a time, in the background.
   */
  async #warmStart(hot: readonly HotShard[]): Promise<void> {
    const order = [...hot].sort(
      (a, b) => (RANK_OF[b.priority as Priority] ?? 0) - (RANK_OF[a.priority as Priority] ?? 0) || b.lastUsedMs - a.lastUsedMs,
    );
    for (const h of order) {
      if (this.#closing !== null) return;
      const slot = this.#cores.get(h.collection)?.slots[h.shard];
      if (slot === undefined) continue;
      if ((await this.#store.warm(slot)) === 'full') return;
    }
  }

  /**
   * Removes what a crash can leave behind: temporary files of unfinished atomic writes, shard
   * files of generations the manifest no longer names, and folders of collections it no longer
   * names (a delete cut short after its commit). Files moved aside as damaged are kept.
   */
  #sweep(): void {
    const root = join(this.path, 'collections');
    if (!existsSync(root)) return;
    for (const name of readdirSync(root)) {
      const core = this.#cores.get(name);
      const dir = join(root, name);
      if (core === undefined) {
        if (!readdirSync(dir).some((f) => f.includes('.corrupt-'))) rmSync(dir, { recursive: true, force: true });
        continue;
      }
      const current = new Set(core.slots.map((s) => `${s.index}-${s.generation}`));
      for (const file of readdirSync(dir)) {
        if (file.includes('.corrupt-')) continue;
        const generation = /^(\d+-\d+)\.(seg|ids|meta)$/.exec(file);
        if (file.includes('.tmp-') || (generation !== null && !current.has(generation[1] as string))) rmSync(join(dir, file), { force: true });
      }
    }
  }

  /** What is resident now, for the next open's warm start. */
  #recordHotSet(): void {
    const hot: HotShard[] = [];
    for (const c of this.#cores.values()) {
      for (const s of c.slots) {
        if (!s.resident) continue;
        hot.push({ collection: c.name, shard: s.index, bytes: this.governor.heldBy(s.key), lastUsedMs: s.lastUsedMs, priority: c.priority });
      }
    }
    this.#catalog.hot = hot;
  }

  /** Releases everything after a failed open. */
  async #abandon(): Promise<void> {
    this.#closing = Promise.resolve();
    this.governor.stop();
    await this.#store.freeAll();
    await this.#wal?.close().catch(() => undefined);
    await this.#pool.close();
    this.#unlock();
  }

  async #close(): Promise<void> {
    if (this.#active > 0) await new Promise<void>((done) => (this.#idle = done));
    for (const core of this.#cores.values()) await core.stop('closed');
    await this.#warming;
    this.governor.stop();
    try {
      await this.governor.idle();
      this.#recordHotSet();
      if (!this.ephemeral) await this.flush();
      await this.#wal?.close();
    } catch (err) {
      if (err instanceof ShoalError) throw err;
      throw new IoError(`${this.path}: close could not save: ${(err as Error).message}`, { path: this.path }, { cause: err });
    } finally {
      await this.#store.freeAll();
      await this.#pool.close();
      try {
        this.#unlock();
      } catch (err) {
        process.emitWarning(`shoal: could not release the lock of ${this.path}: ${(err as Error).message}`, 'ShoalWarning');
      }
      if (this.ephemeral) rmSync(this.path, { recursive: true, force: true });
    }
  }
}

/** Runs a filesystem call, turning Node's error into an IoError that names the path. */
export function io<T>(path: string, what: string, call: () => T): T {
  try {
    return call();
  } catch (cause) {
    throw new IoError(`${path}: cannot ${what}: ${(cause as Error).message}`, { path }, { cause });
  }
}

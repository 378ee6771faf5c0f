/**
 * Shoal: the database. Opens a data directory (or an ephemeral one), owns the worker pool,
 * the collections and the memory budget (budget/governor.ts), persists the manifest, and
 * closes cleanly: no new calls, calls in flight finish, dirty shards flush, native memory is
 * freed, the directory lock is released.
 *
 * Its size (about 600 lines) is the life cycle of a database: open, recovery and warm start,
 * the collection registry, the host callbacks collections use, flush and close. They share
 * the private state of one open database; stats live in shoal-stats.ts.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { Clock } from './budget/clock.js';
import { systemClock } from './budget/clock.js';
import { Governor, type GovernorEvents, type ReservationKind, type ShardEntry } from './budget/governor.js';
import type { Reservation } from './budget/ledger.js';
import type { EvictionReason, Priority } from './budget/policy.js';
import type { Level } from './budget/thresholds.js';
import { checkPriority, Collection, type CollectionOptions } from './collection.js';
import { snapshotStats, type ShoalStats } from './shoal-stats.js';
import { parseBytes, resolveConfig, type BudgetOptions, type Config } from './config.js';
import { AlreadyExistsError, ClosedError, CorruptionError, InvalidArgumentError, IoError, NotFoundError } from './errors.js';
import { RANK_OF } from './budget/policy.js';
import { checkSpec } from './native/segment.js';
import { Pool } from './pool/pool.js';
import { removeGeneration, Shard, type ShardContext } from './shard.js';
import { lockDirectory } from './storage/dir-lock.js';
import { checkCollectionName, collectionDir } from './storage/layout.js';
import { readManifest, writeManifest, type CollectionRecord, type HotShard } from './storage/manifest.js';
import { Wal, type Durability, type TruncatedTail } from './storage/wal.js';
import type { WalRecord } from './storage/wal-record.js';
import { checkInteger, describe } from './vectors.js';

export interface ShoalOptions extends BudgetOptions {
  /** Data directory. Omit for an ephemeral database in a temp directory removed on close. */
  readonly path?: string;
  /** Worker threads. Default: the machine's available parallelism (or SHOAL_THREADS). */
  readonly threads?: number;
  /** Time source for TTL and recency (tests pass a fake). */
  readonly clock?: Clock;
  /** Environment to read SHOAL_* settings from. Default process.env. */
  readonly env?: Record<string, string | undefined>;
  /**
   * What an acknowledged write survives. 'fsync' (default): the write is in the log and
   * fdatasync'd before its promise resolves; it survives a process crash and power loss.
   * 'none': the log record is handed to the OS, not synced; it survives a process crash but not
   * an OS crash or power loss (for bulk loads that can be redone). 'unlogged': no log; writes
   * are durable only after flush() or close(). An ephemeral database is always 'unlogged'.
   */
  readonly durability?: Durability;
  /** Re-admit the segments resident at the last clean close, in the background. Default true. */
  readonly warmStart?: boolean;
}

/** What recovery did when the database opened. */
export interface RecoveryReport {
  /** Log records re-applied to shards whose files did not hold them. */
  readonly replayedRecords: number;
  /** Damaged log tails cut off (their bytes kept beside the log, never deleted). */
  readonly truncatedTails: readonly TruncatedTail[];
}

export interface ReconfiguredEvent {
  readonly config: Config;
}

export interface ShoalEvents extends GovernorEvents {
  reconfigured: ReconfiguredEvent;
}

export class Shoal {
  /** The data directory (for an ephemeral database, its temp directory). */
  readonly path: string;
  readonly ephemeral: boolean;
  readonly threads: number;
  #events = new EventEmitter();
  #pool: Pool;
  #governor: Governor;
  #unlock: () => void;
  #collections = new Map<string, Collection>();
  #active = 0;
  #idle: (() => void) | null = null;
  #closing: Promise<void> | null = null;
  #manifestWrites: Promise<number> = Promise.resolve(0);
  #wal: Wal | null = null;
  #hot: readonly HotShard[] = [];
  #warming: Promise<void> = Promise.resolve();
  #recovery: RecoveryReport = { replayedRecords: 0, truncatedTails: [] };

  private constructor(path: string, ephemeral: boolean, config: Config, clock: Clock, unlock: () => void) {
    this.path = path;
    this.ephemeral = ephemeral;
    this.threads = config.threads;
    this.#unlock = unlock;
    this.#pool = new Pool(config.threads);
    this.#governor = new Governor(config, clock, (event, payload) => this.#events.emit(event, payload), () => this.#committed());
  }

  /**
   * Opens (creating if needed) a database.
   * @throws {InvalidArgumentError} for a bad option or SHOAL_* environment value,
   *   {LockedError} if another live process has the directory open, {CorruptionError} for a
   *   damaged manifest.
   * @example
   *   const db = await Shoal.open({ path: './data', memoryLimitBytes: '512MB' });
   */
  static async open(options: ShoalOptions = {}): Promise<Shoal> {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options: must be an object, got ${describe(options)}`);
    const env = options.env ?? process.env;
    const config = resolveConfig(options, env);
    const requested = checkDurability(options.durability ?? 'fsync');
    const ephemeral = options.path === undefined;
    if (!ephemeral && typeof options.path !== 'string') throw new InvalidArgumentError(`path: must be a string, got ${describe(options.path)}`);
    const durability = ephemeral ? 'unlogged' : requested; // a temp directory outlives no crash
    const path = ephemeral ? mkdtempSync(join(tmpdir(), 'shoal-')) : resolve(options.path as string);
    io(path, 'create the data directory', () => mkdirSync(path, { recursive: true }));
    const unlock = lockDirectory(path);
    let db: Shoal | null = null;
    try {
      const manifest = readManifest(path);
      db = new Shoal(path, ephemeral, config, options.clock ?? systemClock, unlock);
      const opened = db;
      for (const record of manifest.collections) opened.#collections.set(record.name, opened.#materialize(record));
      opened.#hot = manifest.hot ?? [];
      opened.#sweep();
      await opened.#recover(durability);
      if (options.warmStart !== false && opened.#hot.length > 0) opened.#warming = opened.#warmStart();
      return opened;
    } catch (err) {
      if (db !== null) await db.#abandon();
      else unlock();
      if (ephemeral) rmSync(path, { recursive: true, force: true });
      throw err;
    }
  }

  /** What recovery did when this database opened. */
  get recovery(): RecoveryReport {
    return this.#recovery;
  }

  /** Resolves when warm start (re-admitting the segments resident at the last close) is done. */
  warmedUp(): Promise<void> {
    return this.#warming;
  }

  /**
   * Closes the database on SIGTERM and SIGINT (or the given signals), then lets the signal take
   * its usual course. Returns a function that removes the handlers.
   */
  closeOnSignals(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): () => void {
    const handler = (signal: NodeJS.Signals): void => {
      remove();
      this.close()
        .catch((err: unknown) => process.emitWarning(`shoal: close on ${signal} failed: ${(err as Error).message}`))
        .finally(() => process.kill(process.pid, signal));
    };
    const remove = (): void => {
      for (const signal of signals) process.off(signal, handler);
    };
    for (const signal of signals) process.on(signal, handler);
    return remove;
  }

  /** The settings in force. */
  get config(): Config {
    return this.#governor.config;
  }

  on<K extends keyof ShoalEvents>(event: K, listener: (payload: ShoalEvents[K]) => void): this {
    this.#events.on(event, listener);
    return this;
  }

  once<K extends keyof ShoalEvents>(event: K, listener: (payload: ShoalEvents[K]) => void): this {
    this.#events.once(event, listener);
    return this;
  }

  off<K extends keyof ShoalEvents>(event: K, listener: (payload: ShoalEvents[K]) => void): this {
    this.#events.off(event, listener);
    return this;
  }

  /**
   * Creates a collection. @throws {AlreadyExistsError} if the name is taken,
   * {InvalidArgumentError} for a bad name or option.
   */
  createCollection(name: string, options: CollectionOptions): Promise<Collection> {
    return this.operation(async () => {
      checkCollectionName(name);
      if (this.#collections.has(name)) throw new AlreadyExistsError(`collection ${JSON.stringify(name)} already exists`, { collection: name });
      const record = { ...checkCollectionOptions(name, options), createdLsn: (this.#wal as Wal).lastLsn };
      io(collectionDir(this.path, name), 'create the collection folder', () => mkdirSync(collectionDir(this.path, name), { recursive: true }));
      const collection = this.#materialize(record);
      this.#collections.set(name, collection);
      await this.#saveManifest();
      return collection;
    });
  }

  /** @throws {NotFoundError} */
  getCollection(name: string): Collection {
    this.#checkOpen();
    checkCollectionName(name);
    const found = this.#collections.get(name);
    if (found === undefined) throw new NotFoundError(`collection ${JSON.stringify(name)} does not exist`, { collection: name });
    return found;
  }

  /** The existing collection (whose dim, space and shards must match `options`), or a new one. */
  async getOrCreateCollection(name: string, options: CollectionOptions): Promise<Collection> {
    this.#checkOpen();
    const found = this.#collections.get(checkCollectionName(name));
    if (found === undefined) return this.createCollection(name, options);
    const wanted = checkCollectionOptions(name, options);
    if (wanted.dim !== found.dim || wanted.space !== found.space || wanted.shards.length !== found.shards.length) {
      throw new InvalidArgumentError(
        `options: collection ${JSON.stringify(name)} exists with dim ${found.dim}, space ${found.space}, ${found.shards.length} shards`,
      );
    }
    return found;
  }

  listCollections(): string[] {
    this.#checkOpen();
    return [...this.#collections.keys()].sort();
  }

  /** Deletes a collection and its files. @throws {NotFoundError} */
  deleteCollection(name: string): Promise<void> {
    return this.operation(async () => {
      const collection = this.getCollection(name);
      this.#collections.delete(name);
      collection.markDeleted();
      await this.#saveManifest();
      for (const shard of collection.shards) {
        while (shard.evicting !== null) await shard.evicting;
        await shard.drain();
        await shard.exclusive(() => shard.release(collection.context));
        this.#governor.unregister(shardKey(name, shard.index));
      }
      io(collectionDir(this.path, name), 'remove the collection folder', () => rmSync(collectionDir(this.path, name), { recursive: true, force: true }));
    });
  }

  /** Writes every changed shard and the manifest; returns when they are durable. */
  flush(): Promise<void> {
    return this.operation(() => this.#flushAll());
  }

  /** Unloads every collection (flushing unsaved writes); pinned ones too. */
  unloadAll(): Promise<void> {
    return this.operation(async () => {
      for (const entry of [...this.#governor.entries()]) await this.#governor.unload(entry, 'manual');
    });
  }

  /**
   * Changes budget settings at once, without dropping the cache: shrinking the limit evicts
   * down to it; growing it admits more. Unspecified settings keep their current values.
   * @throws {InvalidArgumentError}, {BudgetExceededError} if pinned or busy segments do not fit
   *   the new limit: the configuration stays as it was (segments evicted while trying stay
   *   unloaded and reload on use).
   */
  configure(options: BudgetOptions): Promise<void> {
    return this.operation(async () => {
      const current = this.#governor.config;
      const next = resolveConfig({ ...options, threads: current.threads }, {}, current);
      await this.#governor.configure(next);
      this.#emit('reconfigured', { config: next });
    });
  }

  /** Runs the TTL sweep and threshold checks now (they also run every maintenanceIntervalMs). */
  maintain(): Promise<void> {
    return this.operation(() => this.#governor.maintain());
  }

  /**
   * Resolves once background budget work has finished: threshold relief and the evictions and
   * loads queued before it. stats() read after it describes a settled state.
   */
  idle(): Promise<void> {
    return this.operation(() => this.#governor.idle());
  }

  /** Memory, cache and per-collection figures. */
  stats(): ShoalStats {
    this.#checkOpen();
    return snapshotStats(this.#governor, [...this.#collections.values()]);
  }

  /** Stops new calls, waits for calls in flight, flushes (unless ephemeral), frees everything. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  // ---- CollectionHost: what collections call ---------------------------------------------

  /** @internal Runs one public operation, refusing it once closing has begun. */
  async operation<T>(work: () => Promise<T>): Promise<T> {
    this.#checkOpen();
    this.#active++;
    try {
      return await work();
    } finally {
      if (--this.#active === 0) this.#idle?.();
    }
  }

  /** @internal */
  use<T>(collection: Collection, shards: readonly number[], body: () => Promise<T>): Promise<T> {
    return this.#governor.use(shards.map((s) => this.#entry(collection, s)), body);
  }

  /** @internal */
  reserve(collection: Collection, bytes: number, kind: ReservationKind): Promise<Reservation> {
    return this.#governor.reserve(bytes, kind, collection, `${kind} ${collection.name}`);
  }

  /** @internal */
  release(r: Reservation): void {
    this.#governor.release(r);
  }

  /** @internal */
  settle(collection: Collection, shard: Shard, r?: Reservation): void {
    this.#governor.settle(this.#entry(collection, shard.index), r);
  }

  /** @internal */
  async unload(collection: Collection, shards: readonly number[]): Promise<void> {
    for (const s of shards) await this.#governor.unload(this.#entry(collection, s), 'manual');
  }

  /** @internal */
  load(collection: Collection, shards: readonly number[]): Promise<void> {
    return this.use(collection, shards, async () => undefined);
  }

  /** @internal */
  log(record: Omit<WalRecord, 'lsn'>): { lsn: number; durable: Promise<void> } {
    return (this.#wal as Wal).append(record);
  }

  /** @internal */
  async saveSettings(): Promise<void> {
    await this.#saveManifest();
  }

  // ---- internals ---------------------------------------------------------------------------

  #emit<K extends keyof ShoalEvents>(event: K, payload: ShoalEvents[K]): void {
    this.#events.emit(event, payload);
  }

  #checkOpen(): void {
    if (this.#closing !== null) throw new ClosedError('the database is closed');
  }

  #entry(collection: Collection, shard: number): ShardEntry {
    const found = this.#governor.entry(shardKey(collection.name, shard));
    if (found === undefined) throw new NotFoundError(`collection ${JSON.stringify(collection.name)} was deleted`, { collection: collection.name });
    return found;
  }

  #materialize(record: CollectionRecord): Collection {
    const context: ShardContext = {
      pool: this.#pool,
      root: this.path,
      collection: record.name,
      spec: { dim: record.dim, space: record.space, M: record.M, efConstruction: record.efConstruction },
      durable: (lsn) => this.#wal?.durable(lsn) ?? Promise.resolve(),
    };
    const shards = record.shards.map((s, i) => new Shard(i, s.generation, s.count, s.flushedLsn ?? record.createdLsn ?? 0));
    const collection = new Collection(
      this,
      context,
      { ...record, priority: record.priority ?? 'medium', quotaBytes: record.quotaBytes ?? 0, createdLsn: record.createdLsn ?? 0 },
      shards,
    );
    for (const shard of shards) {
      this.#governor.register({ key: shardKey(record.name, shard.index), shard, context, owner: collection });
    }
    if (record.failure !== undefined) {
      collection.fail(new CorruptionError(record.failure.message, { collection: record.name, file: record.failure.file, keptAs: record.failure.keptAs }));
    }
    return collection;
  }

  #record(c: Collection): CollectionRecord {
    return {
      name: c.name,
      dim: c.dim,
      space: c.space,
      M: c.M,
      efConstruction: c.efConstruction,
      efSearch: c.efSearch,
      shards: c.shards.map((s) => ({ generation: s.generation, count: s.generation === 0 ? 0 : s.count, flushedLsn: s.flushedLsn })),
      createdAtMs: c.createdAtMs,
      priority: c.priority,
      quotaBytes: c.quotaBytes,
      createdLsn: c.createdLsn,
      ...(c.failure === null ? {} : { failure: { message: c.failure.message, file: String(c.failure.details['file'] ?? ''), keptAs: String(c.failure.details['keptAs'] ?? '') } }),
    };
  }

  /**
   * Writes the manifest from the current state (writes are serialised) and returns the oldest
   * LSN that manifest still needs from the log: the first write not yet flushed by any shard
   * it describes. Computed from the same snapshot as the manifest, so the log is never cut
   * past what a manifest on disk covers.
   */
  #saveManifest(): Promise<number> {
    const write = async (): Promise<number> => {
      let needed = (this.#wal?.lastLsn ?? 0) + 1;
      const collections = [...this.#collections.values()].map((c) => {
        for (const s of c.shards) if (s.oldestUnflushedLsn > 0) needed = Math.min(needed, s.oldestUnflushedLsn);
        return this.#record(c);
      });
      writeManifest(this.path, { collections, hot: this.#hot });
      return needed;
    };
    const run = this.#manifestWrites.then(write, write);
    this.#manifestWrites = run.catch(() => 0);
    return run;
  }

  async #flushAll(): Promise<void> {
    const obsolete: [ShardContext, number, number][] = [];
    for (const collection of this.#collections.values()) {
      // All of a collection's shards in one turn, as writes take them: a batch is either in
      // every shard's new files or in none.
      await inTurns(collection.shards, async () => {
        for (const shard of collection.shards) {
          const previous = await shard.save(collection.context);
          if (previous > 0) obsolete.push([collection.context, shard.index, previous]);
        }
      });
    }
    await this.#committed();
    for (const [context, shard, generation] of obsolete) removeGeneration(context, shard, generation);
  }

  /** After shard files were written: commit them in the manifest, then drop log files they cover. */
  async #committed(): Promise<void> {
    const needed = await this.#saveManifest();
    await this.#wal?.removeFlushed(needed);
  }

  /** Replays the log into shards whose files do not hold its records yet. */
  async #recover(durability: Durability): Promise<void> {
    let floor = 0;
    for (const c of this.#collections.values()) {
      floor = Math.max(floor, c.createdLsn);
      for (const s of c.shards) floor = Math.max(floor, s.flushedLsn);
    }
    let replayed = 0;
    const tails: TruncatedTail[] = [];
    this.#wal = await Wal.open(
      this.path,
      durability,
      floor,
      async (record) => {
        const collection = this.#collections.get(record.collection);
        // Deleted, an earlier collection of that name, or one whose files are damaged.
        if (collection === undefined || record.lsn <= collection.createdLsn || collection.failure !== null) return;
        await this.operation(() => collection.replay(record));
        replayed++;
      },
      (tail) => {
        tails.push(tail);
        process.emitWarning(
          `shoal: cut off ${tail.bytes} damaged bytes at the end of ${tail.file} (${tail.why}); they are kept in ${tail.keptAs}`,
          'ShoalRecoveryWarning',
        );
      },
    );
    this.#recovery = { replayedRecords: replayed, truncatedTails: tails };
  }

  /**
   * Warm start: re-admits the shards resident at the last clean close, highest priority and
   * most recent first, only while they fit without evicting anything; the rest load on first
   * use. Runs in the background, one shard per budget turn, so calls are never queued behind
   * more than one warm-up load.
   */
  async #warmStart(): Promise<void> {
    const order = [...this.#hot].sort(
      (a, b) => (RANK_OF[b.priority as Priority] ?? 0) - (RANK_OF[a.priority as Priority] ?? 0) || b.lastUsedMs - a.lastUsedMs,
    );
    for (const hot of order) {
      if (this.#closing !== null) return;
      await this.#governor.foregroundLoadsDone(); // calls that need a load go first
      const collection = this.#collections.get(hot.collection);
      const shard = collection?.shards[hot.shard];
      if (collection === undefined || shard === undefined || shard.resident) continue;
      const outcome = await this.#governor.warm(this.#entry(collection, hot.shard)).catch(() => 'skipped' as const);
      if (outcome === 'full') return; // the budget is full: the rest load lazily
    }
  }

  /**
   * Removes what a crash can leave behind in collection folders: temporary files of unfinished
   * atomic writes, and shard files of generations the manifest no longer names. Files moved
   * aside as damaged (.corrupt-, .tail-) are kept.
   */
  #sweep(): void {
    for (const c of this.#collections.values()) {
      const dir = collectionDir(this.path, c.name);
      if (!existsSync(dir)) continue;
      const current = new Set(c.shards.map((s) => `${s.index}-${s.generation}`));
      for (const file of readdirSync(dir)) {
        if (file.includes('.corrupt-')) continue;
        const generation = /^(\d+-\d+)\.(seg|ids)$/.exec(file);
        if (file.includes('.tmp-') || (generation !== null && !current.has(generation[1] as string))) rmSync(join(dir, file), { force: true });
      }
    }
  }

  /** Records what is resident now, for the next open's warm start. */
  #recordHotSet(): void {
    const hot: HotShard[] = [];
    for (const c of this.#collections.values()) {
      for (const s of c.shards) {
        if (!s.resident) continue;
        hot.push({ collection: c.name, shard: s.index, bytes: this.#governor.ledger.residentOf(`${c.name}/${s.index}`), lastUsedMs: s.lastUsedMs, priority: c.priority });
      }
    }
    this.#hot = hot;
  }

  /** Releases everything after a failed open. */
  async #abandon(): Promise<void> {
    this.#closing = Promise.resolve();
    this.#governor.stop();
    for (const collection of this.#collections.values()) {
      for (const shard of collection.shards) await shard.release(collection.context).catch(() => undefined);
    }
    await this.#wal?.close();
    await this.#pool.close();
    this.#unlock();
  }

  async #close(): Promise<void> {
    if (this.#active > 0) await new Promise<void>((done) => (this.#idle = done));
    await this.#warming;
    this.#governor.stop();
    try {
      await this.#governor.idle();
      this.#recordHotSet();
      if (!this.ephemeral) await this.#flushAll();
      await this.#wal?.close();
    } finally {
      for (const collection of this.#collections.values()) {
        for (const shard of collection.shards) {
          await shard.release(collection.context);
          this.#governor.unregister(shardKey(collection.name, shard.index));
        }
      }
      await this.#pool.close();
      this.#unlock();
      if (this.ephemeral) rmSync(this.path, { recursive: true, force: true });
    }
  }
}

/** Runs `body` holding every shard's write turn, taken in shard order (as writes take them). */
function inTurns(shards: readonly Shard[], body: () => Promise<void>, i = 0): Promise<void> {
  if (i === shards.length) return body();
  return (shards[i] as Shard).exclusive(() => inTurns(shards, body, i + 1));
}

/** Runs a filesystem call, turning Node's error into an IoError that names the path. */
function io<T>(path: string, what: string, call: () => T): T {
  try {
    return call();
  } catch (cause) {
    throw new IoError(`${path}: cannot ${what}: ${(cause as Error).message}`, { path }, { cause });
  }
}

function checkDurability(value: unknown): Durability {
  if (value === 'fsync' || value === 'none' || value === 'unlogged') return value;
  throw new InvalidArgumentError(`durability: must be 'fsync', 'none' or 'unlogged', got ${describe(value)}`);
}

function shardKey(collection: string, shard: number): string {
  return `${collection}/${shard}`;
}

function checkCollectionOptions(name: string, options: CollectionOptions): CollectionRecord {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options: must be an object, got ${describe(options)}`);
  const spec = checkSpec({ dim: options.dim, space: options.space ?? 'l2', M: options.M, efConstruction: options.efConstruction });
  const shards = checkInteger(options.shards ?? 1, 'shards', 1, 64);
  return {
    name,
    dim: spec.dim,
    space: spec.space,
    M: spec.M as number,
    efConstruction: spec.efConstruction as number,
    efSearch: checkInteger(options.efSearch ?? 64, 'efSearch', 1, 1 << 20),
    shards: Array.from({ length: shards }, () => ({ generation: 0, count: 0 })),
    createdAtMs: Date.now(),
    priority: checkPriority(options.priority ?? 'medium'),
    quotaBytes: options.quotaBytes === undefined || options.quotaBytes === 0 ? 0 : parseBytes(options.quotaBytes, 'quotaBytes'),
  };
}

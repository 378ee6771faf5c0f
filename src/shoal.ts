/**
 * Shoal: the database as users see it. It validates options and arguments, owns the event
 * emitter and the Collection facades, and routes every call to the coordinator
 * (coordinator/database.ts), which does the work: open with recovery, collections, budget,
 * flush and close.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';

import type { Clock } from './budget/clock.js';
import { systemClock } from './budget/clock.js';
import type { GovernorEvents } from './budget/governor.js';
import { checkPriority, Collection, type CollectionOptions } from './collection.js';
import type { CollectionCore } from './coordinator/collection-core.js';
import type { BackupReport } from './coordinator/backup.js';
import { Database, io, type RecoveryReport } from './coordinator/database.js';
import type { ShoalStats } from './coordinator/stats.js';
import { parseBytes, resolveConfig, type BudgetOptions, type Config } from './config.js';
import { publish } from './diagnostics.js';
import { AlreadyExistsError, InvalidArgumentError } from './errors.js';
import { assessHealth, type Health } from './health.js';
import { registerMetrics, type MetricsRegistry } from './metrics.js';
import { closeOnSignals as installShutdown, normalizeShutdownOptions, type ShutdownOptions } from './shutdown.js';
import type { Metadata } from './metadata/values.js';
import { checkSpec } from './segment-spec.js';
import { readExport, withInput } from './tools/jsonl.js';
import { checkCollectionName } from './storage/layout.js';
import type { CollectionRecord } from './storage/manifest.js';
import type { Durability } from './storage/wal.js';
import { checkInteger, describe } from './vectors.js';

export type { RecoveryReport } from './coordinator/database.js';
export type { BackupReport } from './coordinator/backup.js';

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

export interface ReconfiguredEvent {
  readonly config: Config;
}

/** Progress of a long operation: `done` of `total` units (bytes, for 'backup'). */
export interface ProgressEvent {
  readonly phase: 'backup';
  readonly done: number;
  readonly total: number;
}

export interface BackupOptions {
  /** Aborting stops the copy (AbortError) and removes what was copied. */
  readonly signal?: AbortSignal;
  /** Called with the bytes copied so far and the total, as the 'progress' event is emitted. */
  readonly onProgress?: (progress: ProgressEvent) => void;
}

export interface ImportOptions {
  /** Records added per call. Default 1000. */
  readonly batchSize?: number;
  /** Shards of the new collection. Default: as the export's header says. */
  readonly shards?: number;
}

export interface ShoalEvents extends GovernorEvents {
  reconfigured: ReconfiguredEvent;
  progress: ProgressEvent;
}

export class Shoal {
  readonly #db: Database;
  readonly #events: EventEmitter;
  /** One facade per collection object, so getCollection returns the same one each time. */
  #facades = new WeakMap<CollectionCore, Collection>();

  private constructor(db: Database, events: EventEmitter) {
    this.#db = db;
    this.#events = events;
  }

  /**
   * Opens (creating if needed) a database.
   * @throws {InvalidArgumentError} for a bad option or SHOAL_* environment value,
   *   {LockedError} if another process (or this one) has the directory open, {CorruptionError}
   *   for a damaged manifest.
   * @example
   *   const db = await Shoal.open({ path: './data', memoryLimitBytes: '512MB' });
   */
  static async open(options: ShoalOptions = {}): Promise<Shoal> {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options: must be an object, got ${describe(options)}`);
    const config = resolveConfig(options, options.env ?? process.env);
    const requested = checkDurability(options.durability ?? 'fsync');
    const ephemeral = options.path === undefined;
    if (!ephemeral && typeof options.path !== 'string') throw new InvalidArgumentError(`path: must be a string, got ${describe(options.path)}`);
    const path = ephemeral ? mkdtempSync(join(tmpdir(), 'shoal-')) : resolve(options.path as string);
    io(path, 'create the data directory', () => mkdirSync(path, { recursive: true }));
    const events = new EventEmitter();
    try {
      const db = await Database.open({
        path,
        ephemeral,
        config,
        clock: options.clock ?? systemClock,
        durability: ephemeral ? 'unlogged' : requested, // a temp directory outlives no crash
        warmStart: options.warmStart !== false,
        emit: (event, payload) => {
          events.emit(event, payload);
          publish(event, path, payload);
        },
      });
      return new Shoal(db, events);
    } catch (err) {
      if (ephemeral) rmSync(path, { recursive: true, force: true });
      throw err;
    }
  }

  /** The data directory (for an ephemeral database, its temp directory). */
  get path(): string {
    return this.#db.path;
  }

  get ephemeral(): boolean {
    return this.#db.ephemeral;
  }

  get threads(): number {
    return this.#db.threads;
  }

  /** What recovery did when this database opened. */
  get recovery(): RecoveryReport {
    return this.#db.recovery;
  }

  /** Resolves when warm start (re-admitting the segments resident at the last close) is done. */
  warmedUp(): Promise<void> {
    return this.#db.warmedUp();
  }

  /**
   * Closes the database on SIGTERM and SIGINT (or `options.signals`): first the `hooks`, in
   * order (e.g. `() => server.close()`: stop accepting, drain), then the database. The signal is
   * raised again afterwards only if no other listener handles it. Accepts a list of signals
   * for compatibility. Returns a function that removes the handlers.
   */
  closeOnSignals(options?: readonly NodeJS.Signals[] | ShutdownOptions): () => void {
    return installShutdown(() => this.close(), normalizeShutdownOptions(options));
  }

  /** 'ok', 'degraded' or 'critical', with the reasons (see docs/operations.md). */
  health(): Health {
    return assessHealth(this.stats());
  }

  /**
   * Registers Prometheus metrics for this database into `registry` (default: a new prom-client
   * Registry) and returns it. Needs the optional peer dependency prom-client.
   */
  metrics<R extends MetricsRegistry>(registry?: R): Promise<R> {
    return registerMetrics(this, registry);
  }

  /** The settings in force. */
  get config(): Config {
    return this.#db.governor.config;
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
   * Creates a collection. A delete of the same name still in progress is waited for.
   * @throws {AlreadyExistsError} if the name is taken, {InvalidArgumentError} for a bad name or
   *   option, {IoError} if it cannot be recorded (then it does not exist).
   */
  createCollection(name: string, options: CollectionOptions): Promise<Collection> {
    return this.#db.operation(async () => {
      checkCollectionName(name);
      return this.#facade(await this.#db.createCollection(checkCollectionOptions(name, options)));
    });
  }

  /** @throws {NotFoundError} */
  getCollection(name: string): Collection {
    this.#db.checkOpen();
    return this.#facade(this.#db.getCollection(checkCollectionName(name)));
  }

  /** The existing collection (whose dim, space and shards must match `options`), or a new one. */
  async getOrCreateCollection(name: string, options: CollectionOptions): Promise<Collection> {
    this.#db.checkOpen();
    const wanted = checkCollectionOptions(checkCollectionName(name), options);
    if (!this.#db.hasCollection(name)) return this.createCollection(name, options);
    const found = this.getCollection(name);
    if (wanted.dim !== found.dim || wanted.space !== found.space || wanted.shards.length !== found.shardCount) {
      throw new InvalidArgumentError(`options: collection ${JSON.stringify(name)} exists with dim ${found.dim}, space ${found.space}, ${found.shardCount} shards`);
    }
    return found;
  }

  listCollections(): string[] {
    this.#db.checkOpen();
    return this.#db.listCollections();
  }

  /**
   * Deletes a collection and its files: later calls on it fail with NotFoundError, calls in
   * flight finish first. @throws {NotFoundError}, {IoError} (then nothing changed)
   */
  deleteCollection(name: string): Promise<void> {
    return this.#db.operation(() => this.#db.deleteCollection(checkCollectionName(name)));
  }

  /**
   * Creates collection `name` from an export (docs/formats.md; `col.export`): the header's
   * settings, then every record, added in batches as they are read, so memory is one batch.
   * `source` is a file path or a Readable. All or nothing: if any line is bad, or adding fails,
   * the new collection is deleted and the error names the line.
   * Records with `metadata` are refused (InvalidArgumentError naming the line) until this build
   * stores metadata.
   * @throws {AlreadyExistsError} if `name` exists, {InvalidArgumentError} for a bad header or
   *   record, {IoError}, and what add() throws (duplicate ids: AlreadyExistsError).
   * @example
   *   const col = await db.importCollection('docs', 'docs.jsonl');
   */
  importCollection(name: string, source: string | Readable, options: ImportOptions = {}): Promise<Collection> {
    return this.#db.operation(async () => {
      checkCollectionName(name);
      if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options: must be an object, got ${describe(options)}`);
      const batchSize = checkInteger(options.batchSize ?? 1000, 'batchSize', 1, 1_000_000);
      if (this.#db.hasCollection(name)) throw new AlreadyExistsError(`collection ${JSON.stringify(name)} already exists`, { collection: name });
      return withInput(source, async (input) => {
        const { header, batches } = await readExport(input, batchSize);
        const col = await this.createCollection(name, {
          dim: header.dim, space: header.space, M: header.M, efConstruction: header.efConstruction, efSearch: header.efSearch,
          shards: options.shards ?? header.shards,
        });
        try {
          for await (const batch of batches) {
            await col.add(batch.ids, batch.vectors, batch.metadatas.map((m) => (m ?? {}) as Metadata));
          }
        } catch (err) {
          await this.deleteCollection(name).catch(() => undefined);
          throw err;
        }
        return col;
      });
    });
  }

  /** Writes every changed shard and the manifest; returns when they are durable. */
  flush(): Promise<void> {
    return this.#db.operation(() => this.#db.flush());
  }

  /**
   * Copies the whole database into `dest` (a new or empty directory) while it keeps serving:
   * queries and writes go on during the copy. The copy holds exactly the writes that had been
   * applied when backup() was called (every write acknowledged before the call, none begun
   * after it, no batch in part) and opens with Shoal.open. Emits 'progress' events
   * `{ phase: 'backup', done, total }` in bytes.
   * @throws {InvalidArgumentError} for a destination that is not new or empty, or inside the
   *   data directory; {AbortError} when `signal` aborts; {IoError}. A failed copy is removed.
   * @example
   *   await db.backup('/backups/2024-06-01', { onProgress: ({ done, total }) => log(done / total) });
   */
  backup(dest: string, options: BackupOptions = {}): Promise<BackupReport> {
    return this.#db.operation(() => {
      if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options: must be an object, got ${describe(options)}`);
      const { signal, onProgress } = options;
      if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentError(`signal: must be an AbortSignal, got ${describe(signal)}`);
      if (onProgress !== undefined && typeof onProgress !== 'function') throw new InvalidArgumentError(`onProgress: must be a function, got ${describe(onProgress)}`);
      return this.#db.backup(dest, {
        ...(signal === undefined ? {} : { signal }),
        onProgress: ({ done, total }) => {
          const event: ProgressEvent = { phase: 'backup', done, total };
          onProgress?.(event);
          this.#events.emit('progress', event);
        },
      });
    });
  }

  /** Unloads every collection (saving unsaved writes); pinned ones too. */
  unloadAll(): Promise<void> {
    return this.#db.operation(() => this.#db.unloadAll());
  }

  /**
   * Changes budget settings at once, without dropping the cache: shrinking the limit evicts
   * down to it; growing it admits more. Unspecified settings keep their current values.
   * @throws {InvalidArgumentError}, {BudgetExceededError} if pinned or busy segments do not fit
   *   the new limit: the configuration stays as it was (segments evicted while trying stay
   *   unloaded and reload on use).
   */
  configure(options: BudgetOptions): Promise<void> {
    return this.#db.operation(async () => {
      const current = this.#db.governor.config;
      const next = resolveConfig({ ...options, threads: current.threads }, {}, current);
      await this.#db.configure(next);
      this.#events.emit('reconfigured', { config: next });
      publish('reconfigured', this.path, { config: next });
    });
  }

  /** Runs the TTL sweep and threshold checks now (they also run every maintenanceIntervalMs). */
  maintain(): Promise<void> {
    return this.#db.operation(() => this.#db.governor.maintain());
  }

  /**
   * Resolves once background budget work has finished: threshold relief and the evictions and
   * loads queued before it. stats() read after it describes a settled state.
   */
  idle(): Promise<void> {
    return this.#db.operation(() => this.#db.governor.idle());
  }

  /** Memory, cache and per-collection figures. */
  stats(): ShoalStats {
    this.#db.checkOpen();
    return this.#db.stats();
  }

  /** Stops new calls, waits for calls in flight, flushes (unless ephemeral), frees everything. */
  close(): Promise<void> {
    return this.#db.close();
  }

  #facade(core: CollectionCore): Collection {
    let facade = this.#facades.get(core);
    if (facade === undefined) {
      facade = Collection.wrap(this.#db, core);
      this.#facades.set(core, facade);
    }
    return facade;
  }
}

function checkDurability(value: unknown): Durability {
  if (value === 'fsync' || value === 'none' || value === 'unlogged') return value;
  throw new InvalidArgumentError(`durability: must be 'fsync', 'none' or 'unlogged', got ${describe(value)}`);
}

function checkCollectionOptions(name: string, options: CollectionOptions): Omit<CollectionRecord, 'createdLsn'> {
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

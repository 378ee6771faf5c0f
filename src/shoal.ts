/**
 * Shoal: the database. Opens a data directory (or an ephemeral one), owns the worker pool and
 * the collections, persists the manifest, and closes cleanly: no new calls, calls in flight
 * finish, dirty shards flush, native memory is freed, the directory lock is released.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { Collection, type CollectionOptions } from './collection.js';
import { AlreadyExistsError, ClosedError, InvalidArgumentError, NotFoundError } from './errors.js';
import { checkSpec } from './native/segment.js';
import { Pool } from './pool/pool.js';
import { INITIAL_CAPACITY, removeGeneration, Shard, type ShardContext } from './shard.js';
import { lockDirectory } from './storage/dir-lock.js';
import { checkCollectionName, collectionDir } from './storage/layout.js';
import { readManifest, writeManifest, type CollectionRecord } from './storage/manifest.js';
import { checkInteger, describe } from './vectors.js';
import { native } from './native/binding.js';

export interface ShoalOptions {
  /** Data directory. Omit for an ephemeral database in a temp directory removed on close. */
  readonly path?: string;
  /** Worker threads. Default: the machine's available parallelism. */
  readonly threads?: number;
}

export class Shoal {
  /** The data directory (for an ephemeral database, its temp directory). */
  readonly path: string;
  readonly ephemeral: boolean;
  readonly threads: number;
  #pool: Pool;
  #unlock: () => void;
  #collections = new Map<string, Collection>();
  #active = 0;
  #idle: (() => void) | null = null;
  #closing: Promise<void> | null = null;
  #manifestWrites: Promise<void> = Promise.resolve();

  private constructor(path: string, ephemeral: boolean, threads: number, unlock: () => void) {
    this.path = path;
    this.ephemeral = ephemeral;
    this.threads = threads;
    this.#unlock = unlock;
    this.#pool = new Pool(threads);
  }

  /**
   * Opens (creating if needed) a database.
   * @throws {LockedError} if another live process has the directory open,
   *   {CorruptionError} for a damaged manifest, {InvalidArgumentError} for bad options.
   * @example
   *   const db = await Shoal.open({ path: './data' });
   */
  static async open(options: ShoalOptions = {}): Promise<Shoal> {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options: must be an object, got ${describe(options)}`);
    const threads = checkInteger(options.threads ?? availableParallelism(), 'threads', 1, 256);
    const ephemeral = options.path === undefined;
    const path = ephemeral ? mkdtempSync(join(tmpdir(), 'shoal-')) : resolve(options.path as string);
    mkdirSync(path, { recursive: true });
    const unlock = lockDirectory(path);
    try {
      const manifest = readManifest(path);
      const db = new Shoal(path, ephemeral, threads, unlock);
      for (const record of manifest.collections) db.#collections.set(record.name, db.#materialize(record));
      return db;
    } catch (err) {
      unlock();
      if (ephemeral) rmSync(path, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Creates a collection. @throws {AlreadyExistsError} if the name is taken,
   * {InvalidArgumentError} for a bad name or option.
   */
  createCollection(name: string, options: CollectionOptions): Promise<Collection> {
    return this.operation(async () => {
      checkCollectionName(name);
      if (this.#collections.has(name)) throw new AlreadyExistsError(`collection ${JSON.stringify(name)} already exists`, { collection: name });
      const record = checkCollectionOptions(name, options);
      mkdirSync(collectionDir(this.path, name), { recursive: true });
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

  /** The existing collection (whose settings must match `options`), or a new one. */
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
      for (const shard of collection.shards) await shard.exclusive(() => shard.release(collection.context));
      rmSync(collectionDir(this.path, name), { recursive: true, force: true });
    });
  }

  /** Writes every changed shard and the manifest; returns when they are durable. */
  flush(): Promise<void> {
    return this.operation(() => this.#flushAll());
  }

  /** Stops new calls, waits for calls in flight, flushes (unless ephemeral), frees everything. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

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
  ensureResident(collection: Collection, shard: Shard): Promise<void> {
    return shard.ensureResident(collection.context);
  }

  /** @internal Doubles a shard's capacity until `fresh` more ids fit. */
  async growFor(collection: Collection, shard: Shard, fresh: number): Promise<void> {
    const info = native.segmentInfo(shard.handle);
    const needed = info.count + fresh;
    if (needed <= info.capacity) return;
    let capacity = Math.max(info.capacity, INITIAL_CAPACITY);
    while (capacity < needed) capacity *= 2;
    await collection.context.pool.run('resize', { handle: shard.handle, capacity });
  }

  #checkOpen(): void {
    if (this.#closing !== null) throw new ClosedError('the database is closed');
  }

  #materialize(record: CollectionRecord): Collection {
    const context: ShardContext = {
      pool: this.#pool,
      root: this.path,
      collection: record.name,
      spec: { dim: record.dim, space: record.space, M: record.M, efConstruction: record.efConstruction },
    };
    const shards = record.shards.map((s, i) => new Shard(i, s.generation, s.count));
    return new Collection(this, context, record, shards);
  }

  #record(c: Collection): CollectionRecord {
    return {
      name: c.name,
      dim: c.dim,
      space: c.space,
      M: c.M,
      efConstruction: c.efConstruction,
      efSearch: c.efSearch,
      shards: c.shards.map((s) => ({ generation: s.generation, count: s.generation === 0 ? 0 : s.count })),
      createdAtMs: c.createdAtMs,
    };
  }

  /** Writes the manifest from the current state; writes are serialised. */
  #saveManifest(): Promise<void> {
    const write = async (): Promise<void> => {
      writeManifest(this.path, { collections: [...this.#collections.values()].map((c) => this.#record(c)) });
    };
    this.#manifestWrites = this.#manifestWrites.then(write, write);
    return this.#manifestWrites;
  }

  async #flushAll(): Promise<void> {
    const obsolete: [ShardContext, number, number][] = [];
    for (const collection of this.#collections.values()) {
      await Promise.all(
        collection.shards.map((shard) =>
          shard.exclusive(async () => {
            const previous = await shard.save(collection.context);
            if (previous > 0) obsolete.push([collection.context, shard.index, previous]);
          }),
        ),
      );
    }
    await this.#saveManifest();
    for (const [context, shard, generation] of obsolete) removeGeneration(context, shard, generation);
  }

  async #close(): Promise<void> {
    if (this.#active > 0) await new Promise<void>((done) => (this.#idle = done));
    try {
      if (!this.ephemeral) await this.#flushAll();
    } finally {
      for (const collection of this.#collections.values()) {
        for (const shard of collection.shards) await shard.release(collection.context);
      }
      await this.#pool.close();
      this.#unlock();
      if (this.ephemeral) rmSync(this.path, { recursive: true, force: true });
    }
  }
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
  };
}

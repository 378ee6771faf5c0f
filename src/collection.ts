/**
 * Collection: named vectors with string ids, spread over shards by a hash of the id. This
 * facade validates every argument in full (a bad one is a typed error and changes nothing) and
 * routes the call to the collection's coordinator (coordinator/collection-core.ts).
 */
import type { Writable } from 'node:stream';

import { PRIORITIES, type Priority } from './budget/policy.js';
import type { CollectionCore } from './coordinator/collection-core.js';
import type { Database } from './coordinator/database.js';
import type { CollectionStats } from './coordinator/stats.js';
import { collectionStats } from './coordinator/stats.js';
import { InvalidArgumentError, InvalidLabelError, type CorruptionError } from './errors.js';
import { checkMetadatas, type Metadata, type MetadataValue } from './metadata/values.js';
import { CompiledWhere } from './metadata/where.js';
import type { SpaceName } from './native/binding.js';
import { EXPORT_FORMAT, EXPORT_VERSION, withOutput, writeExport, type ExportPage } from './tools/jsonl.js';
import { checkInteger, checkNormalizable, describe, toFloatRows, type VectorsInput } from './vectors.js';

export interface CollectionOptions {
  readonly dim: number;
  /** 'l2' (squared Euclidean), 'ip' (1 - dot) or 'cosine' (1 - cosine similarity). Default 'l2'. */
  readonly space?: SpaceName;
  /** Segments the collection is split into. Default 1 (see the README on choosing). */
  readonly shards?: number;
  /** Graph degree. Default 16. */
  readonly M?: number;
  /** Build-time search breadth. Default 200. */
  readonly efConstruction?: number;
  /** Default query breadth. Default 64. */
  readonly efSearch?: number;
  /** Eviction priority: low ones go first; critical ones are never evicted. Default 'medium'. */
  readonly priority?: Priority;
  /** Most bytes this collection's resident shards may hold (number or '64MB'); 0: no quota. */
  readonly quotaBytes?: number | string;
}

export interface QueryOptions {
  /** Results per query. Default 10. */
  readonly k?: number;
  /** Search breadth for this call. Default max(k, efSearch). */
  readonly ef?: number;
  /** Only these ids may be returned. */
  readonly filter?: { readonly ids: readonly string[] };
  /**
   * Only records whose metadata matches (Chroma's operators; docs/api.md): every result
   * matches, and fewer than k come back only when fewer than k records match.
   */
  readonly where?: Where;
}

/** A metadata filter: `{ field: value }`, `{ field: { $gt: 3 } }`, `{ $and: [...] }`, ... (docs/api.md). */
export type Where = Readonly<Record<string, unknown>>;

export interface ScanOptions {
  /** Records per page. Default 1000. */
  readonly batchSize?: number;
  /** Only records whose metadata matches. */
  readonly where?: Where;
  /** What each page carries besides ids. Default ['metadatas']. */
  readonly include?: readonly ('vectors' | 'metadatas')[];
}

/** One page of a scan: ids, and the vectors and metadatas `include` asked for. */
export interface ScanPage {
  readonly ids: string[];
  readonly vectors?: Float32Array[];
  readonly metadatas?: Record<string, MetadataValue>[];
}

export interface QueryResult {
  /** Nearest first. */
  readonly ids: string[];
  readonly distances: Float32Array;
}

export interface GetResult {
  readonly ids: string[];
  /** One row per id (cosine: the stored unit vectors). */
  readonly vectors: Float32Array[];
  /** One per id: its metadata, {} when it has none. */
  readonly metadatas: Record<string, MetadataValue>[];
}

export interface ExportOptions {
  /** Records read per page (per shard entry). Default 1000. */
  readonly batchSize?: number;
}

export interface ExportReport {
  /** Records written after the header. */
  readonly records: number;
}

export class Collection {
  readonly #db: Database;
  readonly #core: CollectionCore;

  private constructor(db: Database, core: CollectionCore) {
    this.#db = db;
    this.#core = core;
  }

  /** @internal Collections are made by Shoal.createCollection / getCollection. */
  static wrap(db: Database, core: CollectionCore): Collection {
    return new Collection(db, core);
  }

  get name(): string {
    return this.#core.name;
  }

  get dim(): number {
    return this.#core.spec.dim;
  }

  get space(): SpaceName {
    return this.#core.spec.space;
  }

  get M(): number {
    return this.#core.spec.M;
  }

  get efConstruction(): number {
    return this.#core.spec.efConstruction;
  }

  get efSearch(): number {
    return this.#core.efSearch;
  }

  get createdAtMs(): number {
    return this.#core.createdAtMs;
  }

  /** Number of shards (fixed at creation). */
  get shardCount(): number {
    return this.#core.slots.length;
  }

  /** Eviction priority (change it with setPriority). */
  get priority(): Priority {
    return this.#core.priority;
  }

  /** Whether pin() holds the collection resident. */
  get pinned(): boolean {
    return this.#core.pinned;
  }

  /** Most bytes the collection's resident shards may hold; 0: no quota. */
  get quotaBytes(): number {
    return this.#core.quotaBytes;
  }

  /** Whether every shard is resident now. */
  get resident(): boolean {
    return this.#core.resident;
  }

  /** Why the collection cannot be used (its files are damaged), or null. */
  get failure(): CorruptionError | null {
    return this.#core.failure;
  }

  /**
   * Adds vectors under new ids, each with its metadata (a plain object of strings, finite
   * numbers, booleans or arrays of strings; null or absent: none). @throws {AlreadyExistsError}
   * if an id is present (nothing is added), {DimensionMismatchError}, {InvalidVectorError},
   * {InvalidLabelError} for bad or repeated ids, {InvalidMetadataError} naming the id and key,
   * {ClosedError}.
   */
  add(ids: readonly string[], vectors: VectorsInput, metadatas?: readonly (Metadata | null | undefined)[]): Promise<void> {
    return this.#call(() => this.#write('add', ids, vectors, metadatas));
  }

  /**
   * Adds vectors, replacing those of ids already present. With metadatas, each id's metadata is
   * replaced too; without, ids already present keep theirs.
   */
  upsert(ids: readonly string[], vectors: VectorsInput, metadatas?: readonly (Metadata | null | undefined)[]): Promise<void> {
    return this.#call(() => this.#write('upsert', ids, vectors, metadatas));
  }

  /**
   * Replaces the metadata of ids already present; vectors stay as they are.
   * @throws {NotFoundError} naming absent ids, {InvalidMetadataError}; either way nothing changes.
   */
  setMetadata(ids: readonly string[], metadatas: readonly (Metadata | null | undefined)[]): Promise<void> {
    return this.#call(async () => {
      const list = checkIds(ids);
      const metas = checkMetadatas(metadatas, list);
      if (metas === null) throw new InvalidArgumentError(`metadatas: must be an array of ${list.length} objects (one per id), got undefined`);
      return this.#core.setMetadata(list, metas);
    });
  }

  /** Deletes every id or none. @throws {NotFoundError} naming the absent ids. */
  delete(ids: readonly string[]): Promise<void> {
    return this.#call(() => this.#core.write('delete', checkIds(ids), null));
  }

  /** The stored vectors and metadata of `ids`, in order. @throws {NotFoundError} */
  get(ids: readonly string[]): Promise<GetResult> {
    return this.#call(() => this.#core.get(checkIds(ids)));
  }

  /**
   * Live records in the collection; with `where`, those whose metadata matches (which loads
   * every shard). @throws {InvalidFilterError}
   */
  count(options: { readonly where?: Where } = {}): Promise<number> {
    return this.#call(async () => {
      if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options: must be an object, got ${describe(options)}`);
      if (options.where === undefined) return this.#core.count;
      return this.#core.countWhere(CompiledWhere.compile(options.where));
    });
  }

  /**
   * Every live record, page by page, while writes go on. Shards are read one after another;
   * each shard's ids (those `where` matches) are taken when the scan reaches it, and each page
   * is read as it is at that moment. So a record live for the whole scan comes exactly once;
   * one deleted before its page is read does not come; one added to a shard the scan has
   * already reached does not come (one added to a shard not yet reached does); an updated
   * record comes as its page finds it (with `where`: if it still matches).
   * @throws {InvalidArgumentError} for bad options, {InvalidFilterError}
   */
  scan(options: ScanOptions = {}): AsyncIterableIterator<ScanPage> {
    this.#db.checkOpen();
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options: must be an object, got ${describe(options)}`);
    const batchSize = checkInteger(options.batchSize ?? 1000, 'batchSize', 1, 1_000_000);
    const where = options.where === undefined ? null : CompiledWhere.compile(options.where);
    const include = options.include ?? ['metadatas'];
    if (!Array.isArray(include) || !include.every((x) => x === 'vectors' || x === 'metadatas')) {
      throw new InvalidArgumentError(`include: must be an array of 'vectors' and 'metadatas', got ${describe(include)}`);
    }
    return this.#scan(batchSize, where, include.includes('vectors'), include.includes('metadatas'));
  }

  async *#scan(batchSize: number, where: CompiledWhere | null, vectors: boolean, metadatas: boolean): AsyncGenerator<ScanPage> {
    for (let shard = 0; shard < this.shardCount; shard++) {
      const ids = await this.#call(() => this.#core.snapshotIds(shard, where));
      for (let from = 0; from < ids.length; from += batchSize) {
        const page = await this.#call(() => this.#core.page(shard, ids.slice(from, from + batchSize), vectors, metadatas, where));
        if (page.ids.length > 0) yield page;
      }
    }
  }

  /**
   * The k nearest stored vectors of each query, nearest first: one result per query. A single
   * vector (number[] or Float32Array of length dim) is one query.
   * @throws {InvalidArgumentError} for bad k or ef, {DimensionMismatchError}, {InvalidVectorError}
   */
  query(queries: VectorsInput, options: QueryOptions = {}): Promise<QueryResult[]> {
    return this.#call(async () => {
      if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options: must be an object, got ${describe(options)}`);
      const q = toFloatRows(queries, this.dim, 'queries');
      if (this.space === 'cosine') checkNormalizable(q, this.dim, 'queries');
      const k = checkInteger(options.k ?? 10, 'k', 1, 10_000);
      const ef = checkInteger(options.ef ?? Math.max(k, this.efSearch), 'ef', 1, 1 << 20);
      const where = options.where === undefined ? null : CompiledWhere.compile(options.where);
      return this.#core.query(q, k, ef, { ids: checkFilter(options.filter), where });
    });
  }

  /**
   * Writes the collection as JSON Lines (docs/formats.md): a header record with its settings,
   * then `{ "id", "vector" }` per record, floats exact to the bit. Streams: memory is one page.
   * `dest` is a file path (replaced; removed again if the export fails) or a Writable (left
   * open). Writes may go on meanwhile: a record live throughout is written exactly once.
   * @throws {InvalidArgumentError}, {IoError}
   * @example
   *   await col.export('docs.jsonl');
   */
  export(dest: string | Writable, options: ExportOptions = {}): Promise<ExportReport> {
    return this.#call(async () => {
      if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`options: must be an object, got ${describe(options)}`);
      const batchSize = checkInteger(options.batchSize ?? 1000, 'batchSize', 1, 1_000_000);
      const c = this.#core;
      const header = {
        format: EXPORT_FORMAT, version: EXPORT_VERSION, name: c.name, dim: c.spec.dim, space: c.spec.space, M: c.spec.M,
        efConstruction: c.spec.efConstruction, efSearch: c.efSearch, shards: c.slots.length, count: c.count, exportedAtMs: Date.now(),
      } as const;
      return withOutput(dest, (out) => writeExport(header, exportPages(this.#scan(batchSize, null, true, true), c.spec.dim), out));
    });
  }

  /** Unloads the collection's shards: calls using them finish first, unsaved writes are saved. Idempotent. */
  unload(): Promise<void> {
    return this.#call(() => this.#core.unload());
  }

  /** Makes the collection resident now (subject to the budget). @throws {BudgetExceededError} */
  load(): Promise<void> {
    return this.#call(() => this.#core.load());
  }

  /** Loads the collection and keeps it resident: the budget never evicts it until unpin(). */
  pin(): Promise<void> {
    return this.#call(async () => {
      await this.#core.load();
      this.#core.pinned = true;
    });
  }

  /** Lets the budget evict the collection again. @throws {ClosedError} */
  unpin(): void {
    this.#db.checkOpen();
    this.#core.pinned = false;
  }

  /** Changes the eviction priority (saved in the manifest). */
  setPriority(priority: Priority): Promise<void> {
    return this.#call(() => this.#core.setPriority(checkPriority(priority)));
  }

  /** This collection's figures, with each shard's lifecycle state. */
  stats(): CollectionStats {
    this.#db.checkOpen();
    return collectionStats(this.#core, new Map(this.#db.governor.breakdown().map((b) => [b.collection, b])));
  }

  #call<T>(work: () => Promise<T>): Promise<T> {
    try {
      this.#db.checkOpen();
      return this.#core.call(work);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #write(kind: 'add' | 'upsert', ids: readonly string[], vectors: VectorsInput, metadatas: unknown): Promise<void> {
    const list = checkIds(ids);
    const metas = checkMetadatas(metadatas, list);
    if (vectors === null || vectors === undefined) {
      throw new InvalidArgumentError(`vectors: must be a Float32Array or an array of ${list.length} vectors of dim ${this.dim}, got ${describe(vectors)}`);
    }
    const flat = toFloatRows(vectors, this.dim, 'vectors', list.length);
    if (this.space === 'cosine') checkNormalizable(flat, this.dim, 'vectors');
    return this.#core.write(kind, list, flat, metas);
  }
}

export function checkPriority(priority: unknown): Priority {
  if (!PRIORITIES.includes(priority as Priority)) {
    throw new InvalidArgumentError(`priority: must be one of ${PRIORITIES.join(', ')}, got ${describe(priority)}`);
  }
  return priority as Priority;
}

function checkFilter(filter: QueryOptions['filter']): readonly string[] | null {
  if (filter === undefined) return null;
  if (typeof filter !== 'object' || filter === null || !Array.isArray(filter.ids) || !filter.ids.every((id) => typeof id === 'string')) {
    throw new InvalidArgumentError(`filter: must be { ids: string[] }, got ${describe(filter)}`);
  }
  return filter.ids;
}

/** Ids must be non-empty strings, each at most once per call. */
export function checkIds(ids: unknown): string[] {
  if (!Array.isArray(ids)) throw new InvalidLabelError(`ids: must be an array of strings, got ${describe(ids)}`);
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    if (typeof id !== 'string' || id.length === 0) throw new InvalidLabelError(`ids[${i}]: must be a non-empty string, got ${describe(id)}`, { row: i });
    if (seen.has(id)) throw new InvalidLabelError(`ids[${i}]: ${JSON.stringify(id)} appears more than once in this call`, { row: i });
    seen.add(id);
  });
  return ids as string[];
}

/** Scan pages as the export writer takes them: vectors flat, and no metadata field for a record without any. */
async function* exportPages(pages: AsyncIterable<ScanPage>, dim: number): AsyncGenerator<ExportPage> {
  for await (const page of pages) {
    const flat = new Float32Array(page.ids.length * dim);
    page.vectors?.forEach((v, i) => flat.set(v, i * dim));
    yield { ids: page.ids, vectors: flat, metadatas: page.metadatas?.map((m) => (Object.keys(m).length === 0 ? undefined : m)) };
  }
}

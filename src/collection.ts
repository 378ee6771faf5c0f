/**
 * Collection: named vectors with string ids, spread over shards by a hash of the id. Writes
 * are validated in full before anything changes; queries fan out to every shard through the
 * pool and are merged exactly.
 */
import type { ReservationKind } from './budget/governor.js';
import type { Reservation } from './budget/ledger.js';
import type { WalRecord } from './storage/wal-record.js';
import { PRIORITIES, type Priority } from './budget/policy.js';
import { addBytes, deleteBytes, grownCapacity, growBytes, searchScratchBytes } from './budget/sizes.js';
import { AlreadyExistsError, type CorruptionError, InvalidArgumentError, InvalidLabelError, InvalidVectorError, NotFoundError } from './errors.js';
import { shardOf } from './ids/id-table.js';
import { native, type SpaceName } from './native/binding.js';
import { mergeTopK, planQueryRanges, type ShardOutput } from './pool/merge.js';
import { INITIAL_CAPACITY, type Shard, type ShardContext } from './shard.js';
import { checkInteger, describe, toFloatRows, type VectorsInput } from './vectors.js';

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
}

/** What a collection needs from the database that owns it (the budget lives behind it). */
export interface CollectionHost {
  readonly threads: number;
  /** Runs `work` as one operation of the open database (ClosedError once it closes). */
  operation<T>(work: () => Promise<T>): Promise<T>;
  /** Runs `body` with these shards resident and marked in use (never evicted meanwhile). */
  use<T>(collection: Collection, shards: readonly number[], body: () => Promise<T>): Promise<T>;
  /** Reserves budget for an allocation about to happen. @throws {BudgetExceededError} */
  reserve(collection: Collection, bytes: number, kind: ReservationKind): Promise<Reservation>;
  release(r: Reservation): void;
  /** Records a shard's exact bytes after it changed, releasing the reservation that covered it. */
  settle(collection: Collection, shard: Shard, r?: Reservation): void;
  /** Unloads these shards (waiting for calls using them, flushing unsaved writes). */
  unload(collection: Collection, shards: readonly number[]): Promise<void>;
  /** Makes these shards resident without using them. */
  load(collection: Collection, shards: readonly number[]): Promise<void>;
  /** Logs an applied write; `durable` resolves when it is as durable as configured. */
  log(record: Omit<WalRecord, 'lsn'>): { lsn: number; durable: Promise<void> };
  /** Saves collection settings (priority) in the manifest. */
  saveSettings(): Promise<void>;
}

export class Collection {
  readonly name: string;
  readonly dim: number;
  readonly space: SpaceName;
  readonly M: number;
  readonly efConstruction: number;
  readonly efSearch: number;
  readonly createdAtMs: number;
  /** @internal The log's last LSN when this collection was created. */
  readonly createdLsn: number;
  readonly shards: readonly Shard[];
  readonly context: ShardContext;
  /** Budget settings (the governor reads them). */
  priority: Priority;
  pinned = false;
  quotaBytes: number;
  #host: CollectionHost;
  #deleted = false;
  #failure: CorruptionError | null = null;

  /** @internal Collections are made by Shoal.createCollection / getCollection. */
  constructor(
    host: CollectionHost,
    context: ShardContext,
    settings: Required<Omit<CollectionOptions, 'shards' | 'quotaBytes'>> & {
      readonly createdAtMs: number;
      readonly quotaBytes: number;
      readonly createdLsn: number;
    },
    shards: readonly Shard[],
  ) {
    this.#host = host;
    this.context = context;
    this.name = context.collection;
    this.dim = settings.dim;
    this.space = settings.space;
    this.M = settings.M;
    this.efConstruction = settings.efConstruction;
    this.efSearch = settings.efSearch;
    this.createdAtMs = settings.createdAtMs;
    this.createdLsn = settings.createdLsn;
    this.priority = settings.priority;
    this.quotaBytes = settings.quotaBytes;
    this.shards = shards;
  }

  /**
   * Adds vectors under new ids. @throws {AlreadyExistsError} if an id is present (nothing is
   * added), {DimensionMismatchError}, {InvalidVectorError}, {InvalidLabelError} for bad or
   * repeated ids, {ClosedError}.
   */
  add(ids: readonly string[], vectors: VectorsInput): Promise<void> {
    return this.#op(() => this.#write('add', ids, vectors));
  }

  /** Adds vectors, replacing those of ids already present. */
  upsert(ids: readonly string[], vectors: VectorsInput): Promise<void> {
    return this.#op(() => this.#write('upsert', ids, vectors));
  }

  /** Deletes every id or none. @throws {NotFoundError} naming the absent ids. */
  delete(ids: readonly string[]): Promise<void> {
    return this.#op(() => this.#write('delete', ids, null));
  }

  /** The stored vectors of `ids`, in order. @throws {NotFoundError} */
  get(ids: readonly string[]): Promise<GetResult> {
    return this.#op(async () => {
      const list = checkIds(ids);
      const groups = this.#group(list);
      return this.#host.use(this, [...groups.keys()], async () => {
        const missing = list.filter((id) => (this.shards[shardOf(id, this.shards.length)] as Shard).ids.labelOf(id) === undefined);
        if (missing.length > 0) throw notFound(this.name, missing);
        const flat = new Float32Array(list.length * this.dim);
        await Promise.all(
          [...groups].map(async ([s, rows]) => {
            const shard = this.shards[s] as Shard;
            const labels = Uint32Array.from(rows, (row) => shard.ids.labelOf(list[row] as string) as number);
            const got = await this.context.pool.run('get', { handle: shard.handle, labels });
            rows.forEach((row, i) => flat.set(got.subarray(i * this.dim, (i + 1) * this.dim), row * this.dim));
          }),
        );
        return { ids: list, vectors: list.map((_, i) => flat.subarray(i * this.dim, (i + 1) * this.dim)) };
      });
    });
  }

  /** Live ids in the collection. */
  async count(): Promise<number> {
    return this.#op(async () => this.shards.reduce((n, s) => n + s.count, 0));
  }

  /**
   * The k nearest stored vectors of each query, nearest first: one result per query. A single
   * vector (number[] or Float32Array of length dim) is one query.
   * @throws {InvalidArgumentError} for bad k or ef, {DimensionMismatchError}, {InvalidVectorError}
   */
  query(queries: VectorsInput, options: QueryOptions = {}): Promise<QueryResult[]> {
    return this.#op(async () => {
      const q = toFloatRows(queries, this.dim, 'queries');
      if (this.space === 'cosine') checkNonZero(q, this.dim, 'queries');
      const nq = q.length / this.dim;
      const k = checkInteger(options.k ?? 10, 'k', 1, 10_000);
      const ef = checkInteger(options.ef ?? Math.max(k, this.efSearch), 'ef', 1, 1 << 20);
      const filterIds = checkFilter(options.filter);
      if (nq === 0) return [];
      const shared = new Float32Array(new SharedArrayBuffer(q.byteLength));
      shared.set(q);
      const ranges = planQueryRanges(nq, this.shards.length, this.#host.threads);
      // With a filter, only the shards its ids hash to can answer: the others are not loaded.
      const needed =
        filterIds === null ? this.shards.map((s) => s.index) : [...new Set(filterIds.map((id) => shardOf(id, this.shards.length)))].sort((a, b) => a - b);
      const outputs = await this.#host.use(this, needed, async () => {
        const allow = filterIds === null ? null : this.#allowLists(filterIds);
        const outs: (ShardOutput | null)[] = this.shards.map((_, s) =>
          !needed.includes(s) || (allow !== null && (allow[s] as Uint32Array).length === 0)
            ? null
            : { labels: new Uint32Array(new SharedArrayBuffer(nq * k * 4)), distances: new Float32Array(new SharedArrayBuffer(nq * k * 4)) },
        );
        const tasks = outs.filter((o) => o !== null).length * ranges.length;
        const scratch = await this.#host.reserve(this, Math.min(tasks, this.#host.threads) * searchScratchBytes(ef, k, this.M), 'transient');
        try {
          const running: Promise<void>[] = [];
          outs.forEach((out, s) => {
            if (out === null) return;
            const handle = (this.shards[s] as Shard).handle;
            for (const [from, count] of ranges) {
              running.push(
                this.context.pool.run('search', {
                  handle, dim: this.dim, queries: shared.buffer as SharedArrayBuffer, from, count, k, ef,
                  allow: allow === null ? null : (allow[s] as Uint32Array),
                  outLabels: out.labels.buffer as SharedArrayBuffer,
                  outDistances: out.distances.buffer as SharedArrayBuffer,
                }),
              );
            }
          });
          await Promise.all(running);
        } finally {
          this.#host.release(scratch);
        }
        return outs;
      });

      const results: QueryResult[] = [];
      for (let i = 0; i < nq; i++) {
        const ids: string[] = [];
        const distances: number[] = [];
        for (const hit of mergeTopK(outputs, i, k)) {
          // A label whose id is gone was deleted while this query ran: it is not a result.
          const id = (this.shards[hit.shard] as Shard).ids.idOf(hit.label);
          if (id === undefined) continue;
          ids.push(id);
          distances.push(hit.distance);
        }
        results.push({ ids, distances: Float32Array.from(distances) });
      }
      return results;
    });
  }

  /** @internal Called by Shoal.deleteCollection: every later call throws NotFoundError. */
  markDeleted(): void {
    this.#deleted = true;
  }

  /** @internal Called by the budget governor when this collection's files are damaged. */
  fail(error: CorruptionError): void {
    this.#failure = error;
  }

  /** Why the collection cannot be used (its files are damaged), or null. */
  get failure(): CorruptionError | null {
    return this.#failure;
  }

  #op<T>(work: () => Promise<T>): Promise<T> {
    return this.#host.operation(() => {
      if (this.#deleted) {
        throw new NotFoundError(`collection ${JSON.stringify(this.name)} was deleted`, { collection: this.name });
      }
      if (this.#failure !== null) throw this.#failure;
      return work();
    });
  }

  /** Unloads the collection's shards: calls using them finish first, unsaved writes are flushed. Idempotent. */
  unload(): Promise<void> {
    return this.#op(() => this.#host.unload(this, this.shards.map((s) => s.index)));
  }

  /** Makes the collection resident now (subject to the budget). @throws {BudgetExceededError} */
  load(): Promise<void> {
    return this.#op(() => this.#host.load(this, this.shards.map((s) => s.index)));
  }

  /** Loads the collection and keeps it resident: the budget never evicts it until unpin(). */
  async pin(): Promise<void> {
    await this.load();
    this.pinned = true;
  }

  unpin(): void {
    this.pinned = false;
  }

  /** Changes the eviction priority (saved in the manifest). */
  setPriority(priority: Priority): Promise<void> {
    return this.#op(async () => {
      this.priority = checkPriority(priority);
      await this.#host.saveSettings();
    });
  }

  /** Whether every shard is resident now. */
  get resident(): boolean {
    return this.shards.every((s) => s.resident);
  }

  /** Row indices of `ids` grouped by shard. */
  #group(ids: readonly string[]): Map<number, number[]> {
    const groups = new Map<number, number[]>();
    ids.forEach((id, row) => {
      const s = shardOf(id, this.shards.length);
      const rows = groups.get(s);
      if (rows === undefined) groups.set(s, [row]);
      else rows.push(row);
    });
    return groups;
  }

  /** Per shard, the labels of the allowed ids it holds (unknown ids allow nothing). */
  #allowLists(ids: readonly string[]): Uint32Array[] {
    const lists: number[][] = this.shards.map(() => []);
    for (const id of ids) {
      const s = shardOf(id, this.shards.length);
      const shard = this.shards[s] as Shard;
      if (!shard.resident) continue;
      const label = shard.ids.labelOf(id);
      if (label !== undefined) (lists[s] as number[]).push(label);
    }
    return lists.map((l) => Uint32Array.from(l));
  }

  /**
   * A write: validate everything, reserve every shard's bytes, apply, log, then acknowledge
   * once the log record is durable. Each involved shard's write turn is held from validation to
   * logging, so log order is apply order and no other write interleaves; the wait for
   * durability happens outside the turns, so concurrent writers share one fsync.
   */
  async #write(kind: 'add' | 'upsert' | 'delete', ids: readonly string[], vectors: VectorsInput | null): Promise<void> {
    const list = checkIds(ids);
    const flat = vectors === null ? null : toFloatRows(vectors, this.dim, 'vectors', list.length);
    if (flat !== null && this.space === 'cosine') checkNonZero(flat, this.dim, 'vectors');
    const groups = this.#group(list);
    const order = [...groups.keys()].sort((a, b) => a - b);
    let durable: Promise<void> = Promise.resolve();
    await this.#host.use(this, order, () =>
      this.#inTurn(order, 0, async () => {
        if (kind === 'add') {
          const present = list.filter((id) => (this.shards[shardOf(id, this.shards.length)] as Shard).ids.has(id));
          if (present.length > 0) throw new AlreadyExistsError(`${this.name}: ids already present: ${preview(present)}`, { collection: this.name, ids: present });
        } else if (kind === 'delete') {
          const missing = list.filter((id) => !(this.shards[shardOf(id, this.shards.length)] as Shard).ids.has(id));
          if (missing.length > 0) throw notFound(this.name, missing);
        }
        const applied = await this.#applyToShards(kind, order, list, flat, groups);
        // Log what was applied. Normally that is everything; if a shard failed inside the
        // native core (out of memory, an internal error), the shards that did apply are logged
        // alone, so memory and log agree, and the error is thrown after.
        const rows = applied.ok.flatMap((s) => groups.get(s) as number[]).sort((a, b) => a - b);
        if (rows.length > 0) {
          const loggedIds = rows.length === list.length ? list : rows.map((r) => list[r] as string);
          const loggedVectors =
            flat === null ? new Float32Array(0) : rows.length === list.length ? flat : gatherRows(flat, rows, this.dim);
          const logged = this.#host.log({ op: kind, collection: this.name, ids: loggedIds, vectors: loggedVectors, dim: this.dim });
          for (const s of applied.ok) (this.shards[s] as Shard).noteApplied(logged.lsn);
          durable = logged.durable;
        }
        if (applied.error !== null) throw applied.error;
      }),
    );
    await durable;
  }

  /**
   * @internal Re-applies a logged write during recovery, to each shard whose files do not
   * hold it yet. Adds become upserts and deletes skip absent ids, so applying is exact
   * whatever state the shard's files were flushed in.
   */
  async replay(record: WalRecord): Promise<void> {
    const groups = this.#group(record.ids);
    const order = [...groups.keys()].filter((s) => record.lsn > (this.shards[s] as Shard).flushedLsn).sort((a, b) => a - b);
    if (order.length === 0) return;
    await this.#host.use(this, order, () =>
      this.#inTurn(order, 0, async () => {
        const kind = record.op === 'delete' ? 'delete' : 'upsert';
        const live = new Map<number, number[]>();
        for (const s of order) {
          const shard = this.shards[s] as Shard;
          const rows = (groups.get(s) as number[]).filter((row) => kind === 'upsert' || shard.ids.has(record.ids[row] as string));
          if (rows.length > 0) live.set(s, rows);
        }
        const applied = await this.#applyToShards(kind, [...live.keys()], record.ids, kind === 'upsert' ? record.vectors : null, live);
        if (applied.error !== null) throw applied.error;
        for (const s of order) (this.shards[s] as Shard).noteApplied(record.lsn);
      }),
    );
  }

  /**
   * Reserves every shard's bytes first (any refusal changes nothing), then applies; returns the
   * shards that applied and the first error of any that did not.
   */
  async #applyToShards(
    kind: 'add' | 'upsert' | 'delete',
    order: readonly number[],
    list: readonly string[],
    flat: Float32Array | null,
    groups: ReadonlyMap<number, readonly number[]>,
  ): Promise<{ ok: number[]; error: unknown }> {
    const reservations: Reservation[] = [];
    try {
      for (const s of order) reservations.push(await this.#prepare(kind, this.shards[s] as Shard, list, groups.get(s) as readonly number[]));
    } catch (err) {
      for (const r of reservations) this.#host.release(r);
      throw err;
    }
    const outcomes = await Promise.allSettled(
      order.map((s, i) => this.#apply(kind, this.shards[s] as Shard, list, flat, groups.get(s) as readonly number[], reservations[i] as Reservation)),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    return { ok: order.filter((_, i) => outcomes[i]?.status === 'fulfilled'), error: failed === undefined ? null : failed.reason };
  }

  #inTurn(order: readonly number[], i: number, body: () => Promise<void>): Promise<void> {
    if (i === order.length) return body();
    return (this.shards[order[i] as number] as Shard).exclusive(() => this.#inTurn(order, i + 1, body));
  }

  /** Grows the shard if the new ids need room, and reserves what applying will allocate. */
  async #prepare(kind: 'add' | 'upsert' | 'delete', shard: Shard, list: readonly string[], rows: readonly number[]): Promise<Reservation> {
    if (kind === 'delete') {
      return this.#host.reserve(this, deleteBytes(native.segmentInfo(shard.handle), rows.length), 'transient');
    }
    const fresh = rows.filter((row) => !shard.ids.has(list[row] as string)).map((row) => list[row] as string);
    await this.#grow(shard, fresh.length);
    const idBytes = fresh.reduce((n, id) => n + Buffer.byteLength(id), 0);
    const info = native.segmentInfo(shard.handle);
    return this.#host.reserve(this, addBytes(info, shard.ids, fresh.length, idBytes), fresh.length > 0 ? 'growth' : 'transient');
  }

  async #apply(
    kind: 'add' | 'upsert' | 'delete',
    shard: Shard,
    list: readonly string[],
    flat: Float32Array | null,
    rows: readonly number[],
    r: Reservation,
  ): Promise<void> {
    const pool = this.context.pool;
    try {
      if (kind === 'delete') {
        const labels = Uint32Array.from(rows, (row) => shard.ids.labelOf(list[row] as string) as number);
        await pool.run('delete', { handle: shard.handle, labels });
        for (const row of rows) shard.ids.delete(list[row] as string);
        return;
      }
      const vectors = new Float32Array(rows.length * this.dim);
      rows.forEach((row, i) => vectors.set((flat as Float32Array).subarray(row * this.dim, (row + 1) * this.dim), i * this.dim));
      const fresh = rows.filter((row) => !shard.ids.has(list[row] as string)).map((row) => list[row] as string);
      // Ids go into the table before the segment, so a query never meets a label without an
      // id; they come out again if the segment refuses the write.
      for (const id of fresh) shard.ids.add(id);
      try {
        const labels = Uint32Array.from(rows, (row) => shard.ids.labelOf(list[row] as string) as number);
        await pool.run('add', { handle: shard.handle, labels, vectors, upsert: kind === 'upsert' });
      } catch (err) {
        for (const id of fresh) shard.ids.delete(id);
        throw err;
      }
    } finally {
      this.#host.settle(this, shard, r);
    }
  }

  /** Grows a resident shard's capacity (by half again, repeatedly) until `fresh` more ids fit, within the budget. */
  async #grow(shard: Shard, fresh: number): Promise<void> {
    const info = native.segmentInfo(shard.handle);
    const needed = info.count + fresh;
    if (needed <= info.capacity) return;
    const capacity = grownCapacity(info.capacity, needed, INITIAL_CAPACITY);
    const r = await this.#host.reserve(this, growBytes(info, capacity, this.#host.threads), 'growth');
    try {
      await this.context.pool.run('resize', { handle: shard.handle, capacity });
    } finally {
      this.#host.settle(this, shard, r);
    }
  }
}

export function checkPriority(priority: unknown): Priority {
  if (!PRIORITIES.includes(priority as Priority)) {
    throw new InvalidArgumentError(`priority: must be one of ${PRIORITIES.join(', ')}, got ${describe(priority)}`);
  }
  return priority as Priority;
}

function gatherRows(flat: Float32Array, rows: readonly number[], dim: number): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => out.set(flat.subarray(row * dim, (row + 1) * dim), i * dim));
  return out;
}

/** Cosine space normalises every vector: an all-zero one has no direction. */
function checkNonZero(flat: Float32Array, dim: number, name: string): void {
  for (let row = 0; row < flat.length / dim; row++) {
    let nonzero = false;
    for (let j = 0; j < dim && !nonzero; j++) nonzero = flat[row * dim + j] !== 0;
    if (!nonzero) throw new InvalidVectorError(`${name}[${row}]: cosine space needs a nonzero vector, got all zeros`, { row });
  }
}

function checkFilter(filter: QueryOptions['filter']): readonly string[] | null {
  if (filter === undefined) return null;
  if (typeof filter !== 'object' || filter === null || !Array.isArray(filter.ids) || !filter.ids.every((id) => typeof id === 'string')) {
    throw new InvalidArgumentError(`filter: must be { ids: string[] }, got ${describe(filter)}`);
  }
  return filter.ids;
}

function notFound(collection: string, ids: readonly string[]): NotFoundError {
  return new NotFoundError(`${collection}: ids not found: ${preview(ids)}`, { collection, ids });
}

function preview(ids: readonly string[]): string {
  const shown = ids.slice(0, 5).map((id) => JSON.stringify(id)).join(', ');
  return ids.length > 5 ? `${shown} and ${ids.length - 5} more` : shown;
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

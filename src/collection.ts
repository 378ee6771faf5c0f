/**
 * Collection: named vectors with string ids, spread over shards by a hash of the id. Writes
 * are validated in full before anything changes; queries fan out to every shard through the
 * pool and are merged exactly.
 */
import { AlreadyExistsError, InvalidArgumentError, InvalidLabelError, NotFoundError } from './errors.js';
import { shardOf } from './ids/id-table.js';
import type { SpaceName } from './native/binding.js';
import { mergeTopK, planQueryRanges, type ShardOutput } from './pool/merge.js';
import type { Shard, ShardContext } from './shard.js';
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

/** What a collection needs from the database that owns it. */
export interface CollectionHost {
  readonly threads: number;
  /** Runs `work` as one operation of the open database (ClosedError once it closes). */
  operation<T>(work: () => Promise<T>): Promise<T>;
  /** Makes a shard resident before it is used. */
  ensureResident(collection: Collection, shard: Shard): Promise<void>;
  /** Makes room in a resident shard for `fresh` more ids (resizing its segment if needed). */
  growFor(collection: Collection, shard: Shard, fresh: number): Promise<void>;
}

export class Collection {
  readonly name: string;
  readonly dim: number;
  readonly space: SpaceName;
  readonly M: number;
  readonly efConstruction: number;
  readonly efSearch: number;
  readonly createdAtMs: number;
  readonly shards: readonly Shard[];
  readonly context: ShardContext;
  #host: CollectionHost;
  #deleted = false;

  /** @internal Collections are made by Shoal.createCollection / getCollection. */
  constructor(
    host: CollectionHost,
    context: ShardContext,
    settings: Required<Omit<CollectionOptions, 'shards'>> & { readonly createdAtMs: number },
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
      await this.#resident([...groups.keys()]);
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
      const nq = q.length / this.dim;
      const k = checkInteger(options.k ?? 10, 'k', 1, 10_000);
      const ef = checkInteger(options.ef ?? Math.max(k, this.efSearch), 'ef', 1, 1 << 20);
      const filterIds = checkFilter(options.filter);
      await this.#resident(this.shards.map((s) => s.index));
      const allow = filterIds === null ? null : this.#allowLists(filterIds);
      if (nq === 0) return [];

      const shared = new Float32Array(new SharedArrayBuffer(q.byteLength));
      shared.set(q);
      const ranges = planQueryRanges(nq, this.shards.length, this.#host.threads);
      const outputs: (ShardOutput | null)[] = this.shards.map((_, s) =>
        allow !== null && (allow[s] as Uint32Array).length === 0
          ? null
          : { labels: new Uint32Array(new SharedArrayBuffer(nq * k * 4)), distances: new Float32Array(new SharedArrayBuffer(nq * k * 4)) },
      );
      const tasks: Promise<void>[] = [];
      outputs.forEach((out, s) => {
        if (out === null) return;
        const handle = (this.shards[s] as Shard).handle;
        for (const [from, count] of ranges) {
          tasks.push(
            this.context.pool.run('search', {
              handle, dim: this.dim, queries: shared.buffer as SharedArrayBuffer, from, count, k, ef,
              allow: allow === null ? null : (allow[s] as Uint32Array),
              outLabels: out.labels.buffer as SharedArrayBuffer,
              outDistances: out.distances.buffer as SharedArrayBuffer,
            }),
          );
        }
      });
      await Promise.all(tasks);

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

  #op<T>(work: () => Promise<T>): Promise<T> {
    return this.#host.operation(() => {
      if (this.#deleted) {
        throw new NotFoundError(`collection ${JSON.stringify(this.name)} was deleted`, { collection: this.name });
      }
      return work();
    });
  }

  async #resident(shards: readonly number[]): Promise<void> {
    await Promise.all(shards.map((s) => this.#host.ensureResident(this, this.shards[s] as Shard)));
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
      const label = (this.shards[s] as Shard).ids.labelOf(id);
      if (label !== undefined) (lists[s] as number[]).push(label);
    }
    return lists.map((l) => Uint32Array.from(l));
  }

  async #write(kind: 'add' | 'upsert' | 'delete', ids: readonly string[], vectors: VectorsInput | null): Promise<void> {
    const list = checkIds(ids);
    const flat = vectors === null ? null : toFloatRows(vectors, this.dim, 'vectors', list.length);
    const groups = this.#group(list);
    const order = [...groups.keys()].sort((a, b) => a - b);
    await this.#resident(order);
    // Take every involved shard's write turn, in shard order, so validation and the writes
    // see the same state and no other write interleaves.
    await this.#inTurn(order, 0, async () => {
      if (kind === 'add') {
        const present = list.filter((id) => (this.shards[shardOf(id, this.shards.length)] as Shard).ids.has(id));
        if (present.length > 0) throw new AlreadyExistsError(`${this.name}: ids already present: ${preview(present)}`, { collection: this.name, ids: present });
      } else if (kind === 'delete') {
        const missing = list.filter((id) => !(this.shards[shardOf(id, this.shards.length)] as Shard).ids.has(id));
        if (missing.length > 0) throw notFound(this.name, missing);
      }
      await Promise.all(order.map((s) => this.#writeShard(kind, this.shards[s] as Shard, list, flat, groups.get(s) as number[])));
    });
  }

  #inTurn(order: readonly number[], i: number, body: () => Promise<void>): Promise<void> {
    if (i === order.length) return body();
    return (this.shards[order[i] as number] as Shard).exclusive(() => this.#inTurn(order, i + 1, body));
  }

  async #writeShard(kind: 'add' | 'upsert' | 'delete', shard: Shard, list: readonly string[], flat: Float32Array | null, rows: readonly number[]): Promise<void> {
    const pool = this.context.pool;
    if (kind === 'delete') {
      const labels = Uint32Array.from(rows, (row) => shard.ids.labelOf(list[row] as string) as number);
      await pool.run('delete', { handle: shard.handle, labels });
      for (const row of rows) shard.ids.delete(list[row] as string);
      shard.dirty = true;
      return;
    }
    const vectors = new Float32Array(rows.length * this.dim);
    rows.forEach((row, i) => vectors.set((flat as Float32Array).subarray(row * this.dim, (row + 1) * this.dim), i * this.dim));
    const fresh = rows.filter((row) => !shard.ids.has(list[row] as string)).map((row) => list[row] as string);
    await this.#host.growFor(this, shard, fresh.length);
    // Ids go into the table before the segment, so a query never meets a label without an id;
    // they come out again if the segment refuses the write.
    for (const id of fresh) shard.ids.add(id);
    try {
      const labels = Uint32Array.from(rows, (row) => shard.ids.labelOf(list[row] as string) as number);
      await pool.run('add', { handle: shard.handle, labels, vectors, upsert: kind === 'upsert' });
    } catch (err) {
      for (const id of fresh) shard.ids.delete(id);
      throw err;
    }
    shard.dirty = true;
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

/**
 * One collection's coordination: which shards a call touches, what it reserves, the order of
 * apply, log and acknowledge, and the exact merge of per-shard results. Arguments arrive
 * validated (collection.ts); shards are reached only through the shard store.
 *
 * A collection counts the calls in flight on it, so that deleting it can stop new calls, wait
 * for those in flight (their log records all get LSNs before a new collection of the same name
 * takes its createdLsn), and only then free its shards.
 */
import type { Reservation } from '../budget/ledger.js';
import type { Priority } from '../budget/policy.js';
import { searchScratchBytes } from '../budget/sizes.js';
import { queryAnswerBytes, queryRowBytes, rowsPerPart } from '../budget/transient.js';
import { AlreadyExistsError, ClosedError, CorruptionError, NotFoundError } from '../errors.js';
import { shardOf } from '../ids/id-table.js';
import type { Metadata, MetadataValue } from '../metadata/values.js';
import type { CompiledWhere } from '../metadata/where.js';
import type { SegmentSpec } from '../native/binding.js';
import { mergeTopKEach, planQueryRanges, type ShardOutput } from '../pool/merge.js';
import type { WalRecord } from '../storage/wal-record.js';
import { labelsOf, shardFilter, type ShardFilter } from './filtering.js';
import type { ShardStats, Slot, ShardStore, SlotOwner } from './shard-store.js';

export type WriteKind = 'add' | 'upsert' | 'delete';

/** What a query may return: the records `where` matches, among `ids` (null: no restriction). */
export interface QueryFilter {
  readonly ids: readonly string[] | null;
  readonly where: CompiledWhere | null;
}

export interface CoreSettings {
  readonly name: string;
  readonly spec: Required<Omit<SegmentSpec, 'capacity' | 'seed'>>;
  readonly efSearch: number;
  readonly createdAtMs: number;
  readonly createdLsn: number;
  priority: Priority;
  quotaBytes: number;
}

/** What a collection needs from its database besides the store. */
export interface CoreHost {
  readonly threads: number;
  /** Logs an applied write; `durable` resolves when it is as durable as configured. */
  log(record: Omit<WalRecord, 'lsn'>): { lsn: number; durable: Promise<void> };
  /** Persists the collection's settings (priority, quota) in the manifest. */
  saveSettings(core: CollectionCore): Promise<void>;
}

export interface QueryHit {
  readonly ids: string[];
  readonly distances: Float32Array;
}


export class CollectionCore implements SlotOwner {
  readonly name: string;
  readonly spec: CoreSettings['spec'];
  readonly efSearch: number;
  readonly createdAtMs: number;
  readonly createdLsn: number;
  priority: Priority;
  quotaBytes: number;
  pinned = false;
  slots: readonly Slot[] = [];
  #store: ShardStore;
  #host: CoreHost;
  #failure: CorruptionError | null = null;
  #status: 'live' | 'deleted' | 'closed' = 'live';
  #calls = 0;
  #drained: (() => void)[] = [];
  readonly #coalescer: QueryCoalescer<QueryHit>;

  constructor(settings: CoreSettings, store: ShardStore, host: CoreHost) {
    this.name = settings.name;
    this.spec = settings.spec;
    this.efSearch = settings.efSearch;
    this.createdAtMs = settings.createdAtMs;
    this.createdLsn = settings.createdLsn;
    this.priority = settings.priority;
    this.quotaBytes = settings.quotaBytes;
    this.#store = store;
    this.#host = host;
    // One batch per pool thread: the rest wait and merge. Two per thread merged half as much
    // and reached 0.65x batched QPS with 64 single queries in flight on 2 threads; one per
    // thread reached 0.78-1.02x (node bench/run.mjs singles).
    this.#coalescer = new QueryCoalescer<QueryHit>(
      (queries, _rows, shape) => this.#queryNow(queries, shape.k, shape.ef, { ids: null, where: null }),
      settings.spec.dim,
      host.threads,
    );
  }

  get failure(): CorruptionError | null {
    return this.#failure;
  }

  fail(error: CorruptionError): void {
    this.#failure ??= error;
  }

  get count(): number {
    return this.slots.reduce((n, s) => n + s.count, 0);
  }

  get resident(): boolean {
    return this.slots.every((s) => s.resident);
  }

  /** Runs one call on this collection: refused once it is deleted, damaged or closed. */
  async call<T>(work: () => Promise<T>): Promise<T> {
    this.#check();
    this.#calls++;
    try {
      return await work();
    } finally {
      if (--this.#calls === 0) for (const done of this.#drained.splice(0)) done();
    }
  }

  /** Stops new calls (deleted: NotFoundError; closed: ClosedError) and waits for those in flight. */
  async stop(status: 'deleted' | 'closed'): Promise<void> {
    this.#status = status;
    while (this.#calls > 0) await new Promise<void>((done) => this.#drained.push(done));
  }

  /** Undoes stop('deleted') when the deletion could not be committed. */
  resume(): void {
    this.#status = 'live';
  }

  // ---- reads --------------------------------------------------------------------------------

  /**
   * Queries; concurrent small unfiltered ones are merged into batches while the collection
   * keeps the pool busy (QueryCoalescer, below).
   */
  query(q: Float32Array, k: number, ef: number, filter: QueryFilter): Promise<QueryHit[]> {
    if (filter.ids !== null || filter.where !== null) return this.#queryNow(q, k, ef, filter);
    return this.#coalescer.query(q, { k, ef }, true);
  }

  async #queryNow(q: Float32Array, k: number, ef: number, filter: QueryFilter): Promise<QueryHit[]> {
    const filterIds = filter.ids;
    const dim = this.spec.dim;
    const nq = q.length / dim;
    if (nq === 0) return [];
    // With a filter, only the shards its ids hash to can answer: the others are not loaded.
    const needed =
      filterIds === null ? this.slots : [...new Set(filterIds.map((id) => shardOf(id, this.slots.length)))].sort((a, b) => a - b).map((s) => this.slots[s] as Slot);
    return this.#store.use(needed, 'load', async (held) => {
      const filtered = filter.where !== null;
      const allow = filterIds === null || filtered ? null : allowLists(filterIds, this.slots);
      // A where filter: each shard's matching labels as a bitset the native search tests.
      const bits: (ShardFilter | null)[] = this.slots.map(() => null);
      if (filtered) for (const slot of held) bits[slot.index] = shardFilter(slot, filter.where, filterIds);
      const work = held.filter((slot) => (allow === null || (allow[slot.index] as Uint32Array).length > 0) && (bits[slot.index]?.count ?? 1) > 0);
      const scope: QueryScope = { work, allow, bits, where: filter.where };
      // The answers are what the call returns: reserved for the whole call. The buffers the
      // search writes into and its scratch are reserved per part (transient.ts): a batch whose
      // k x queries would not fit at once runs as consecutive parts, with the same results.
      const answers = await this.#store.reserve(this, nq * queryAnswerBytes(k), 'transient');
      try {
        const part = rowsPerPart(nq, queryRowBytes(dim, k, work.length), this.#store.transientPartBytes());
        if (part === nq) return await this.#queryPart(q, nq, k, ef, scope);
        const results: QueryHit[] = [];
        for (let from = 0; from < nq; from += part) {
          const rows = Math.min(part, nq - from);
          for (const hit of await this.#queryPart(q.subarray(from * dim, (from + rows) * dim), rows, k, ef, scope)) results.push(hit);
        }
        return results;
      } finally {
        this.#store.release(answers);
      }
    });
  }

  /** One part of a query batch on entered slots: shared buffers and scratch reserved, released after the merge. */
  async #queryPart(q: Float32Array, nq: number, k: number, ef: number, scope: QueryScope): Promise<QueryHit[]> {
    const { work, allow, bits } = scope;
    const dim = this.spec.dim;
    const ranges = planQueryRanges(nq, this.slots.length, this.#host.threads);
    const tasks = work.length * ranges.length;
    const bytes = nq * queryRowBytes(dim, k, work.length) + Math.min(tasks, this.#host.threads) * searchScratchBytes(ef, k, this.spec.M);
    const reserved = await this.#store.reserve(this, bytes, 'transient');
    try {
      const shared = new Float32Array(new SharedArrayBuffer(q.byteLength));
      shared.set(q);
      const outputs: (ShardOutput | null)[] = this.slots.map(() => null);
      for (const slot of work) {
        outputs[slot.index] = { labels: new Uint32Array(new SharedArrayBuffer(nq * k * 4)), distances: new Float32Array(new SharedArrayBuffer(nq * k * 4)) };
      }
      const running: Promise<void>[] = [];
      for (const slot of work) {
        const out = outputs[slot.index] as ShardOutput;
        for (const [from, count] of ranges) {
          running.push(
            this.#store.search(slot, {
              dim, queries: shared.buffer as SharedArrayBuffer, from, count, k, ef,
              allow: allow === null ? null : (allow[slot.index] as Uint32Array),
              allowBits: bits[slot.index]?.words ?? null,
              outLabels: out.labels.buffer as SharedArrayBuffer,
              outDistances: out.distances.buffer as SharedArrayBuffer,
            }),
          );
        }
      }
      await Promise.all(running);
      // Inside the use: the shards are still resident, so their id tables are the ones the
      // labels came from.
      return this.#merge(outputs, nq, k, scope.where);
    } finally {
      this.#store.release(reserved);
    }
  }

  async get(list: readonly string[]): Promise<{ ids: string[]; vectors: Float32Array[]; metadatas: Record<string, MetadataValue>[] }> {
    const dim = this.spec.dim;
    const groups = this.#group(list);
    const slots = [...groups.keys()].sort((a, b) => a - b).map((s) => this.slots[s] as Slot);
    return this.#store.use(slots, 'load', async () => {
      const missing = list.filter((id) => this.#slotOf(id).residentIds().labelOf(id) === undefined);
      if (missing.length > 0) throw notFound(this.name, missing);
      const flat = new Float32Array(list.length * dim);
      const metadatas = list.map((id) => {
        const slot = this.#slotOf(id);
        return slot.residentMeta().get(slot.residentIds().labelOf(id) as number);
      });
      await Promise.all(
        slots.map(async (slot) => {
          const rows = groups.get(slot.index) as number[];
          const table = slot.residentIds();
          const got = await this.#store.getVectors(slot, Uint32Array.from(rows, (row) => table.labelOf(list[row] as string) as number));
          rows.forEach((row, i) => flat.set(got.subarray(i * dim, (i + 1) * dim), row * dim));
        }),
      );
      return { ids: [...list], vectors: list.map((_, i) => flat.subarray(i * dim, (i + 1) * dim)), metadatas };
    });
  }

  // ---- writes -------------------------------------------------------------------------------

  /**
   * A write: reserve every shard's bytes, apply, log, then acknowledge once the log record is
   * durable. Each involved shard's write turn is held from the presence check to logging, so
   * log order is apply order and no other write interleaves; the wait for durability happens
   * outside the turns, so concurrent writers share one fsync.
   */
  async write(kind: WriteKind, list: readonly string[], flat: Float32Array | null, metadatas: readonly Metadata[] | null = null): Promise<void> {
    const groups = this.#group(list);
    const slots = [...groups.keys()].sort((a, b) => a - b).map((s) => this.slots[s] as Slot);
    let durable: Promise<void> = Promise.resolve();
    await this.#store.use(slots, 'load', (held) =>
      this.#store.inTurns(held, async () => {
        if (kind === 'add') {
          const present = list.filter((id) => this.#slotOf(id).residentIds().has(id));
          if (present.length > 0) throw new AlreadyExistsError(`${this.name}: ids already present: ${preview(present)}`, { collection: this.name, ids: present });
        } else if (kind === 'delete') {
          const missing = list.filter((id) => !this.#slotOf(id).residentIds().has(id));
          if (missing.length > 0) throw notFound(this.name, missing);
        }
        const applied = await this.#apply(kind, held, list, flat, groups, metadatas);
        // Log what was applied. Normally that is everything; if a shard failed inside the
        // native core (out of memory, an internal error), the shards that did apply are logged
        // alone, so memory and log agree, and the error is thrown after.
        const rows = applied.rows;
        if (rows.length > 0) {
          const loggedIds = rows.length === list.length ? [...list] : rows.map((r) => list[r] as string);
          const loggedVectors = flat === null ? new Float32Array(0) : rows.length === list.length ? flat : gatherRows(flat, rows, this.spec.dim);
          const loggedMeta = metadatas === null ? null : rows.length === list.length ? metadatas : rows.map((r) => metadatas[r] as Metadata);
          const logged = this.#host.log({ op: kind, collection: this.name, ids: loggedIds, vectors: loggedVectors, dim: this.spec.dim, metadatas: loggedMeta });
          for (const slot of applied.ok) this.#store.noteApplied(slot, logged.lsn);
          durable = logged.durable;
        }
        if (applied.error !== null) throw applied.error;
      }),
    );
    await durable;
  }

  /**
   * Replaces the metadata of ids that are all present (NotFoundError naming the absent ones,
   * nothing changed), logged and acknowledged like a write.
   */
  async setMetadata(list: readonly string[], metadatas: readonly Metadata[]): Promise<void> {
    const groups = this.#group(list);
    const slots = [...groups.keys()].sort((a, b) => a - b).map((s) => this.slots[s] as Slot);
    let durable: Promise<void> = Promise.resolve();
    await this.#store.use(slots, 'load', (held) =>
      this.#store.inTurns(held, async () => {
        const missing = list.filter((id) => !this.#slotOf(id).residentIds().has(id));
        if (missing.length > 0) throw notFound(this.name, missing);
        await this.#applyMeta(held, list, metadatas, groups);
        const logged = this.#host.log({ op: 'meta', collection: this.name, ids: [...list], vectors: new Float32Array(0), dim: this.spec.dim, metadatas });
        for (const slot of held) this.#store.noteApplied(slot, logged.lsn);
        durable = logged.durable;
      }),
    );
    await durable;
  }

  /** Reserves every shard's metadata growth (a refusal changes nothing), then sets it. */
  async #applyMeta(slots: readonly Slot[], list: readonly string[], metadatas: readonly Metadata[], groups: ReadonlyMap<number, readonly number[]>): Promise<void> {
    const reservations: Reservation[] = [];
    try {
      for (const slot of slots) {
        const rows = groups.get(slot.index) as readonly number[];
        const bytes = slot.residentMeta().growthBound(rows.map((r) => metadatas[r] as Metadata), slot.residentIds().labelBound);
        reservations.push(await this.#store.reserve(this, bytes, 'growth', slots));
      }
    } catch (err) {
      for (const r of reservations) this.#store.release(r);
      throw err;
    }
    slots.forEach((slot, i) => {
      const rows = groups.get(slot.index) as readonly number[];
      this.#store.setMetadata(slot, rows.map((r) => list[r] as string), rows.map((r) => metadatas[r] as Metadata), reservations[i] as Reservation);
    });
  }

  /** Live records that `where` matches (loads every shard). */
  countWhere(where: CompiledWhere): Promise<number> {
    return this.#store.use(this.slots, 'load', async (held) => held.reduce((n, slot) => n + shardFilter(slot, where, null).count, 0));
  }

  /**
   * One shard's live ids that `where` matches (all when null), as they are now: the snapshot a
   * scan pages through.
   */
  snapshotIds(shard: number, where: CompiledWhere | null): Promise<string[]> {
    const slot = this.slots[shard] as Slot;
    return this.#store.use([slot], 'load', async () => {
      const table = slot.residentIds();
      return Array.from(labelsOf(shardFilter(slot, where, null)), (label) => table.idOf(label) as string);
    });
  }

  /**
   * The records of `list` (ids of one shard) that are still live (and still match `where`),
   * with what `include` asks for. Ids deleted since the snapshot are left out; those updated
   * come as they are now.
   */
  page(shard: number, list: readonly string[], vectors: boolean, metadatas: boolean, where: CompiledWhere | null): Promise<{ ids: string[]; vectors?: Float32Array[]; metadatas?: Record<string, MetadataValue>[] }> {
    const slot = this.slots[shard] as Slot;
    const dim = this.spec.dim;
    // In the shard's write turn: no delete can take a label between reading it and its vector.
    return this.#store.use([slot], 'load', (held) => this.#store.inTurns(held, async () => {
      const table = slot.residentIds();
      const meta = slot.residentMeta();
      const ids: string[] = [];
      const labels: number[] = [];
      for (const id of list) {
        const label = table.labelOf(id);
        if (label === undefined || (where !== null && !where.test(meta, label))) continue;
        ids.push(id);
        labels.push(label);
      }
      const out: { ids: string[]; vectors?: Float32Array[]; metadatas?: Record<string, MetadataValue>[] } = { ids };
      if (metadatas) out.metadatas = labels.map((label) => meta.get(label));
      if (vectors) {
        const flat = labels.length === 0 ? new Float32Array(0) : await this.#store.getVectors(slot, Uint32Array.from(labels));
        out.vectors = labels.map((_, i) => flat.subarray(i * dim, (i + 1) * dim));
      }
      return out;
    }));
  }

  /**
   * Re-applies a logged write during recovery, to each shard whose files do not hold it yet.
   * Adds become upserts and deletes skip absent ids, so applying is exact whatever state the
   * shard's files were flushed in.
   */
  async replay(record: WalRecord): Promise<void> {
    const groups = this.#group(record.ids);
    const slots = [...groups.keys()]
      .filter((s) => record.lsn > (this.slots[s] as Slot).flushedLsn)
      .sort((a, b) => a - b)
      .map((s) => this.slots[s] as Slot);
    if (slots.length === 0) return;
    await this.#store.use(slots, 'load', (held) =>
      this.#store.inTurns(held, async () => {
        if (record.op === 'meta') {
          // Ids present in the replayed state only: a later delete in the same replay is exact either way.
          const present = new Map<number, number[]>();
          for (const slot of held) {
            const rows = (groups.get(slot.index) as number[]).filter((row) => slot.residentIds().has(record.ids[row] as string));
            if (rows.length > 0) present.set(slot.index, rows);
          }
          await this.#applyMeta(held.filter((s) => present.has(s.index)), record.ids, record.metadatas ?? [], present);
          for (const slot of held) this.#store.noteApplied(slot, record.lsn);
          return;
        }
        const kind = record.op === 'delete' ? 'delete' : 'upsert';
        const live = new Map<number, number[]>();
        for (const slot of held) {
          const table = slot.residentIds();
          const rows = (groups.get(slot.index) as number[]).filter((row) => kind === 'upsert' || table.has(record.ids[row] as string));
          if (rows.length > 0) live.set(slot.index, rows);
        }
        const applied = await this.#apply(kind, held.filter((s) => live.has(s.index)), record.ids, kind === 'upsert' ? record.vectors : null, live, record.metadatas ?? null);
        if (applied.error !== null) throw applied.error;
        for (const slot of held) this.#store.noteApplied(slot, record.lsn);
      }),
    );
  }

  // ---- residency and settings ---------------------------------------------------------------

  async unload(): Promise<void> {
    for (const slot of this.slots) await this.#store.unload(slot);
  }

  load(): Promise<void> {
    return this.#store.use(this.slots, 'load', async () => undefined);
  }

  async setPriority(priority: Priority): Promise<void> {
    this.priority = priority;
    await this.#host.saveSettings(this);
  }

  shardStats(): ShardStats[] {
    return this.slots.map((s) => this.#store.describe(s));
  }

  // ---- internals ----------------------------------------------------------------------------

  #check(): void {
    if (this.#status === 'closed') throw new ClosedError('the database is closed');
    if (this.#status === 'deleted') throw new NotFoundError(`collection ${JSON.stringify(this.name)} was deleted`, { collection: this.name });
    if (this.#failure !== null) throw this.#failure;
  }

  #slotOf(id: string): Slot {
    return this.slots[shardOf(id, this.slots.length)] as Slot;
  }

  /** Row indices of `ids` grouped by shard. */
  #group(ids: readonly string[]): Map<number, number[]> {
    const groups = new Map<number, number[]>();
    ids.forEach((id, row) => {
      const s = shardOf(id, this.slots.length);
      const rows = groups.get(s);
      if (rows === undefined) groups.set(s, [row]);
      else rows.push(row);
    });
    return groups;
  }

  #merge(outputs: readonly (ShardOutput | null)[], nq: number, k: number, where: CompiledWhere | null): QueryHit[] {
    const results: QueryHit[] = [];
    for (let i = 0; i < nq; i++) {
      const ids: string[] = [];
      const distances = new Float32Array(k);
      mergeTopKEach(outputs, i, k, (shard, label, distance) => {
        // A label whose id is gone was deleted (or its shard unloaded) after the search: it is
        // not a result.
        const slot = this.slots[shard] as Slot;
        const id = slot.ids?.idOf(label);
        if (id === undefined) return false;
        // A label whose metadata changed after its shard's filter was computed (a concurrent
        // setMetadata, or a label reused by a new id) is checked again: every result matches.
        if (where !== null && (slot.meta === null || !where.test(slot.meta, label))) return false;
        distances[ids.length] = distance;
        ids.push(id);
        return true;
      });
      results.push({ ids, distances: ids.length === k ? distances : distances.slice(0, ids.length) });
    }
    return results;
  }

  /**
   * Reserves every shard's bytes first (any refusal changes nothing), then applies in
   * parallel; returns the shards that applied rows, the rows applied (ascending), and the
   * first error of any shard that did not apply all of its rows (the parts of its rows before
   * the failure stay applied: ShardStore.add).
   */
  async #apply(
    kind: WriteKind,
    slots: readonly Slot[],
    list: readonly string[],
    flat: Float32Array | null,
    groups: ReadonlyMap<number, readonly number[]>,
    metadatas: readonly Metadata[] | null = null,
  ): Promise<{ ok: Slot[]; rows: number[]; error: unknown }> {
    const reservations: Reservation[] = [];
    const metaOf = (rows: readonly number[]): Metadata[] | null => (metadatas === null ? null : rows.map((row) => metadatas[row] as Metadata));
    try {
      for (const slot of slots) {
        const rows = groups.get(slot.index) as readonly number[];
        if (kind === 'delete') reservations.push(await this.#store.prepareDelete(slot, rows.length, slots));
        else {
          const table = slot.residentIds();
          const fresh = rows.map((row) => list[row] as string).filter((id) => !table.has(id));
          const metas = metaOf(rows);
          const metaBytes = metas === null ? 0 : slot.residentMeta().growthBound(metas, table.labelBound + fresh.length);
          reservations.push(await this.#store.prepareAdd(slot, rows.length, fresh.length, fresh.reduce((n, id) => n + Buffer.byteLength(id), 0), slots, metaBytes));
        }
      }
    } catch (err) {
      for (const r of reservations) this.#store.release(r);
      throw err;
    }
    const progress = slots.map(() => ({ applied: 0 }));
    const outcomes = await Promise.allSettled(
      slots.map((slot, i) => {
        const rows = groups.get(slot.index) as readonly number[];
        const ids = rows.map((row) => list[row] as string);
        const r = reservations[i] as Reservation;
        if (kind === 'delete') return this.#store.delete(slot, ids, r);
        // One shard taking every row reads the caller's rows in place: no split copy.
        const batch = { flat: flat as Float32Array, dim: this.spec.dim, rows: rows.length === list.length ? null : rows };
        return this.#store.add(slot, ids, batch, kind === 'upsert', r, progress[i], metaOf(rows));
      }),
    );
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    const ok: Slot[] = [];
    const rows: number[] = [];
    slots.forEach((slot, i) => {
      const all = groups.get(slot.index) as readonly number[];
      const applied = outcomes[i]?.status === 'fulfilled' ? all.length : (progress[i] as { applied: number }).applied;
      if (applied === 0) return;
      ok.push(slot);
      for (let j = 0; j < applied; j++) rows.push(all[j] as number);
    });
    return { ok, rows: rows.sort((a, b) => a - b), error: failed === undefined ? null : failed.reason };
  }
}

/** Per shard, the labels of the allowed ids it holds (unknown ids allow nothing). */
function allowLists(ids: readonly string[], slots: readonly Slot[]): Uint32Array[] {
  const lists: number[][] = slots.map(() => []);
  for (const id of ids) {
    const s = shardOf(id, slots.length);
    const label = (slots[s] as Slot).ids?.labelOf(id);
    if (label !== undefined) (lists[s] as number[]).push(label);
  }
  return lists.map((l) => Uint32Array.from(l));
}

function gatherRows(flat: Float32Array, rows: readonly number[], dim: number): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => out.set(flat.subarray(row * dim, (row + 1) * dim), i * dim));
  return out;
}

function notFound(collection: string, ids: readonly string[]): NotFoundError {
  return new NotFoundError(`${collection}: ids not found: ${preview(ids)}`, { collection, ids });
}

function preview(ids: readonly string[]): string {
  const shown = ids.slice(0, 5).map((id) => JSON.stringify(id)).join(', ');
  return ids.length > 5 ? `${shown} and ${ids.length - 5} more` : shown;
}

// ---- query coalescing --------------------------------------------------------------------------

/**
 * The query coalescer: coalesces concurrent small queries on one collection into batches. A query that arrives while
 * fewer than `maxInFlight` batches run goes out at once, alone, so a lone query on an idle pool
 * keeps its latency. One that arrives while the collection already keeps the pool busy waits;
 * when a batch ends, the waiting queries of the same shape (k, ef) go out together as one batch,
 * which costs one shard entry, one scratch reservation, one task per shard and range, and one
 * merge instead of one of each per query.
 *
 * Filtered queries and large batches never wait: they are batches already.
 */
export interface QueryShape {
  readonly k: number;
  readonly ef: number;
}

/** Runs one batch of `rows` queries (flat, rows x dim) and returns one result per row. */
export type BatchRunner<R> = (queries: Float32Array, rows: number, shape: QueryShape) => Promise<R[]>;

interface Waiting<R> {
  readonly queries: Float32Array;
  readonly rows: number;
  readonly resolve: (results: R[]) => void;
  readonly reject: (err: unknown) => void;
}

/** Rows at which a call counts as a batch of its own. */
export const COALESCE_MAX_ROWS = 16;
/** Most rows one merged batch carries. */
export const MERGED_MAX_ROWS = 512;

/** What every part of one query call searches: the entered shards and their filters. */
interface QueryScope {
  readonly work: readonly Slot[];
  readonly allow: Uint32Array[] | null;
  readonly bits: readonly (ShardFilter | null)[];
  readonly where: CompiledWhere | null;
}

export class QueryCoalescer<R> {
  readonly #run: BatchRunner<R>;
  readonly #dim: number;
  readonly #maxInFlight: number;
  #inFlight = 0;
  /** Waiting queries by shape, oldest shape first (Map keeps insertion order). */
  #waiting = new Map<string, { shape: QueryShape; list: Waiting<R>[]; rows: number }>();

  constructor(run: BatchRunner<R>, dim: number, maxInFlight: number) {
    this.#run = run;
    this.#dim = dim;
    this.#maxInFlight = Math.max(1, maxInFlight);
  }

  query(queries: Float32Array, shape: QueryShape, coalescible: boolean): Promise<R[]> {
    const rows = queries.length / this.#dim;
    if (!coalescible || rows >= COALESCE_MAX_ROWS || this.#inFlight < this.#maxInFlight) return this.#dispatch(queries, rows, shape);
    return new Promise<R[]>((resolve, reject) => {
      const key = `${shape.k}/${shape.ef}`;
      let group = this.#waiting.get(key);
      if (group === undefined) {
        group = { shape, list: [], rows: 0 };
        this.#waiting.set(key, group);
      }
      group.list.push({ queries, rows, resolve, reject });
      group.rows += rows;
    });
  }

  async #dispatch(queries: Float32Array, rows: number, shape: QueryShape): Promise<R[]> {
    this.#inFlight++;
    try {
      return await this.#run(queries, rows, shape);
    } finally {
      this.#inFlight--;
      this.#next();
    }
  }

  /** Sends out the oldest waiting shape's queries as one batch (up to MERGED_MAX_ROWS rows). */
  #next(): void {
    while (this.#inFlight < this.#maxInFlight && this.#waiting.size > 0) {
      const [key, group] = this.#waiting.entries().next().value as [string, { shape: QueryShape; list: Waiting<R>[]; rows: number }];
      const taken: Waiting<R>[] = [];
      let rows = 0;
      while (group.list.length > 0 && (taken.length === 0 || rows + (group.list[0] as Waiting<R>).rows <= MERGED_MAX_ROWS)) {
        const w = group.list.shift() as Waiting<R>;
        taken.push(w);
        rows += w.rows;
      }
      group.rows -= rows;
      if (group.list.length === 0) this.#waiting.delete(key);
      const merged = new Float32Array(rows * this.#dim);
      let at = 0;
      for (const w of taken) {
        merged.set(w.queries, at * this.#dim);
        at += w.rows;
      }
      this.#dispatch(merged, rows, group.shape).then(
        (results) => {
          let from = 0;
          for (const w of taken) {
            w.resolve(results.slice(from, from + w.rows));
            from += w.rows;
          }
        },
        (err: unknown) => {
          for (const w of taken) w.reject(err);
        },
      );
    }
  }
}

/**
 * The shard store: the one owner of shard lifecycle. It alone creates, loads, saves, evicts and
 * frees shards, and it alone talks to the pool and to storage for them. Each shard is a Slot
 * with one explicit state:
 *
 *   absent --load--> loading --ok--> resident --unload--> draining --no users--> evicting --> absent
 *                       \--damaged--> failed        \--budget (idle)-------------^
 *   any state --collection deleted, no users--> dropped
 *
 * "In use" is a resident slot with users > 0 (calls, flushes and warm loads count as users);
 * "flushing" is a resident slot whose files are being written by a user holding its write turn.
 * A slot leaves loading, draining and evicting by resolving its `transition`; callers that meet
 * one of those states wait for it and look again.
 *
 * Lock order (also in docs/internals.md): (1) a call enters the slots it needs in ascending
 * shard order, one collection per call; (2) holding them, it takes their write turns in the
 * same order; (3) budget turns (Governor) are taken while holding slots or write turns, never
 * the other way round: an eviction picks only a slot that is resident with no users, marks it
 * evicting in the same synchronous step, and then waits only for the pool, the log's fsync and
 * the manifest write, none of which waits for a slot, a write turn or a budget turn. Waiting
 * for other calls' slots (admission waits, unload drains) happens outside every budget turn.
 */
import { existsSync, rmSync } from 'node:fs';

import type { Clock } from '../budget/clock.js';
import type { Evictor, Governor, ReservationKind, ShardView } from '../budget/governor.js';
import type { Reservation } from '../budget/ledger.js';
import type { EvictionReason, Priority } from '../budget/policy.js';
import { addBytes, createBytes, deleteBytes, grownCapacity, growBytes, loadBytes, loadCapacity } from '../budget/sizes.js';
import { rowsPerPart, transientPartBytes, writeRowBytes } from '../budget/transient.js';
import { CorruptionError, InternalError, IoError, NotFoundError } from '../errors.js';
import { ID_FILE_HEAD_BYTES, encodeIdFile, summarizeIdFile } from '../ids/id-file.js';
import { IdTable } from '../ids/id-table.js';
import { META_FILE_HEAD_BYTES, encodeMetaFile, metaFileLoadBytes } from '../metadata/file.js';
import { MetadataTable } from '../metadata/table.js';
import type { Metadata } from '../metadata/values.js';
import { native, type SegmentHandle, type SegmentSpec } from '../native/binding.js';
import type { Pool } from '../pool/pool.js';
import type { SearchTask } from '../pool/protocol.js';
import { SharedBatches, type BatchRows } from '../pool/shared-batch.js';
import { writeFileAtomic } from '../storage/atomic-file.js';
import { readHead } from '../storage/files.js';
import { idsPath, metaPath, segmentPath } from '../storage/layout.js';
import { moveAside } from '../storage/wal.js';
import type { Catalog } from './catalog.js';
import type { NativeAccounting } from './native-accounting.js';

/** Slots a new segment starts with; it grows by half again as needed. */
export const INITIAL_CAPACITY = 1024;

export type SlotState = 'absent' | 'loading' | 'resident' | 'draining' | 'evicting' | 'failed' | 'dropped';

/** What a slot needs to know about its collection. */
export interface SlotOwner {
  readonly name: string;
  readonly spec: Omit<SegmentSpec, 'capacity'>;
  readonly priority: Priority;
  readonly pinned: boolean;
  readonly quotaBytes: number;
  /** Marks the collection unusable: its files are damaged. */
  fail(error: CorruptionError): void;
}

/** The log as the store needs it. */
export interface LogPort {
  lastLsn(): number;
  /** True once the log refused a write: it takes no more. */
  failed(): boolean;
  /** Resolves once every write up to `lsn` is as durable as configured. */
  durable(lsn: number): Promise<void>;
  removeFlushed(neededLsn: number): Promise<void>;
}

export class Slot {
  readonly key: string;
  readonly owner: SlotOwner;
  readonly index: number;
  state: SlotState = 'absent';
  /** Resolves when the slot leaves loading, draining or evicting. */
  transition: Promise<void> | null = null;
  users = 0;
  /** Users that are themselves waiting for an admission (see policy.ts planAdmissionWait). */
  stalled = 0;
  saving = false;
  handle: SegmentHandle | null = null;
  ids: IdTable | null = null;
  /** The shard's metadata, by label: resident with the segment and the id table. */
  meta: MetadataTable | null = null;
  /** The current generation has a .meta file (false for files written before metadata). */
  hasMetaFile: boolean;
  lastUsedMs = 0;
  /** Files on disk: generation 0 means none yet. */
  generation: number;
  storedCount: number;
  /** Every logged write up to this LSN is in the files. */
  flushedLsn: number;
  /** The highest LSN applied to the resident segment. */
  appliedLsn: number;
  /** The first LSN applied since the last save (0 when clean): the log must keep it. */
  oldestUnflushedLsn = 0;
  dirty = false;
  #writes: Promise<unknown> = Promise.resolve();
  #idle: (() => void)[] = [];

  constructor(owner: SlotOwner, index: number, files: { generation: number; count: number; flushedLsn: number; metadata?: boolean }) {
    this.owner = owner;
    this.index = index;
    this.key = `${owner.name}/${index}`;
    this.generation = files.generation;
    this.storedCount = files.count;
    this.flushedLsn = files.flushedLsn;
    this.appliedLsn = files.flushedLsn;
    this.hasMetaFile = files.metadata === true;
  }

  get resident(): boolean {
    return this.state === 'resident';
  }

  get count(): number {
    return this.ids?.size ?? this.storedCount;
  }

  /** The lifecycle phase as stats report it. */
  get phase(): string {
    if (this.state !== 'resident') return this.state;
    if (this.saving) return 'flushing';
    return this.users > 0 ? 'in use' : 'resident';
  }

  residentHandle(): SegmentHandle {
    if (this.handle === null) throw new InternalError(`shard ${this.key} is not resident`);
    return this.handle;
  }

  residentIds(): IdTable {
    if (this.ids === null) throw new InternalError(`shard ${this.key} is not resident`);
    return this.ids;
  }

  residentMeta(): MetadataTable {
    if (this.meta === null) throw new InternalError(`shard ${this.key} is not resident`);
    return this.meta;
  }

  /** Runs `write` after every earlier write turn of this slot has ended. */
  writeTurn<T>(write: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(write, write);
    this.#writes = run.catch(() => undefined);
    return run;
  }

  leave(nowMs: number): void {
    this.users--;
    this.lastUsedMs = nowMs;
    if (this.users === 0) for (const done of this.#idle.splice(0)) done();
  }

  /** Resolves once no call uses the slot. */
  whenIdle(): Promise<void> {
    if (this.users === 0) return Promise.resolve();
    return new Promise((done) => this.#idle.push(done));
  }
}

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

export interface StoreDeps {
  readonly root: string;
  readonly pool: Pool;
  readonly log: LogPort;
  readonly catalog: Catalog;
  readonly governor: Governor;
  readonly accounting: NativeAccounting;
  readonly clock: Clock;
  readonly threads: number;
}

/** One shard as stats report it. */
export interface ShardStats {
  readonly index: number;
  /** absent, loading, resident, in use, flushing, draining, evicting, failed or dropped. */
  readonly state: string;
  readonly count: number;
  /** Slots allocated (0 when not resident). */
  readonly capacity: number;
  readonly nativeBytes: number;
  readonly idTableBytes: number;
  /** Exact bytes of its resident metadata columns. */
  readonly metadataBytes: number;
}

/** 'load': make absent slots resident. 'resident': enter only those already resident. */
export type EnterMode = 'load' | 'resident';

export class ShardStore implements Evictor {
  readonly #d: StoreDeps;
  readonly #batches: SharedBatches;
  #slots = new Map<string, Slot>();
  /** Backups copying shard files: while any runs, removals of old generations wait here. */
  #retained = 0;
  #deferredRemovals: [Slot, number][] = [];

  constructor(deps: StoreDeps) {
    this.#d = deps;
    this.#batches = new SharedBatches(deps.threads);
  }

  /** Creates the slots of a collection from its manifest record. */
  open(owner: SlotOwner, files: readonly { generation: number; count: number; flushedLsn?: number; metadata?: boolean }[], createdLsn: number): Slot[] {
    const slots = files.map(
      (f, i) => new Slot(owner, i, { generation: f.generation, count: f.generation === 0 ? 0 : f.count, flushedLsn: f.flushedLsn ?? createdLsn, metadata: f.metadata === true }),
    );
    for (const s of slots) this.#slots.set(s.key, s);
    return slots;
  }

  describe(slot: Slot): ShardStats {
    const info = slot.handle === null ? null : native.segmentInfo(slot.handle);
    return {
      index: slot.index,
      state: slot.phase,
      count: slot.count,
      capacity: info?.capacity ?? 0,
      nativeBytes: info?.bytes ?? 0,
      idTableBytes: slot.ids?.bytes() ?? 0,
      metadataBytes: slot.meta?.bytes() ?? 0,
    };
  }

  /** Exact bytes of every resident id table. */
  idTableBytes(): number {
    let sum = 0;
    for (const s of this.#slots.values()) sum += s.ids?.bytes() ?? 0;
    return sum;
  }

  // ---- Evictor (what the governor sees) -------------------------------------------------------

  *shards(): Iterable<ShardView> {
    for (const s of this.#slots.values()) {
      yield {
        key: s.key,
        collection: s.owner.name,
        priority: s.owner.priority,
        pinned: s.owner.pinned,
        lastUsedMs: s.lastUsedMs,
        resident: s.state === 'resident' || s.state === 'draining' || s.state === 'evicting',
        // A dirty shard cannot be saved alone once the log has failed: only a flush of its
        // whole collection may write it (docs/errors.md, SHOAL_IO).
        busy: s.state !== 'resident' || s.users > 0 || (s.dirty && this.#d.log.failed()),
        users: s.users,
        stalled: s.stalled,
        // A drain whose remaining users all wait for admissions makes no progress on its own:
        // waiting for it could close a cycle of waits.
        leaving: s.state === 'evicting' || (s.state === 'draining' && (s.users === 0 || s.users > s.stalled)),
      };
    }
  }

  async evict(key: string, reason: EvictionReason): Promise<boolean> {
    const slot = this.#slots.get(key);
    if (slot === undefined || slot.state !== 'resident' || slot.users > 0 || (slot.dirty && this.#d.log.failed())) return false;
    const t = this.#begin(slot, 'evicting');
    try {
      await this.#evictNow(slot, reason);
      return true;
    } catch {
      return false; // it stays resident; a manual unload or flush reports the error
    } finally {
      this.#end(slot, t);
    }
  }

  released(keys: readonly string[]): Promise<void> {
    return Promise.race(
      keys.map((k) => {
        const slot = this.#slots.get(k);
        if (slot === undefined) return Promise.resolve();
        return slot.transition ?? slot.whenIdle();
      }),
    );
  }

  // ---- using shards -----------------------------------------------------------------------

  /**
   * Runs `body` with the slots `indices` (ascending) of one collection entered: resident and
   * never evicted meanwhile. In 'resident' mode slots that are not resident are left out.
   * @throws {BudgetExceededError} when a slot cannot be made resident.
   */
  async use<T>(slots: readonly Slot[], mode: EnterMode, body: (held: readonly Slot[]) => Promise<T>): Promise<T> {
    const held: Slot[] = [];
    try {
      for (const slot of slots) if (await this.#enter(slot, mode, held)) held.push(slot);
      return await body(held);
    } finally {
      const now = this.#d.clock.now();
      for (const slot of held) slot.leave(now);
    }
  }

  /**
   * Runs `body` holding the write turns of `slots` (entered, ascending), taken in that order.
   * While it waits for a turn its slots count as held by a waiting call: an admission never
   * waits for them, as their holder may be waiting for the admitting call's own turn.
   */
  inTurns<T>(slots: readonly Slot[], body: () => Promise<T>): Promise<T> {
    for (const s of slots) s.stalled++;
    let stalled = true;
    const unstall = (): void => {
      if (!stalled) return;
      stalled = false;
      for (const s of slots) s.stalled--;
    };
    const take = (i: number): Promise<T> => {
      if (i === slots.length) {
        unstall();
        return body();
      }
      return (slots[i] as Slot).writeTurn(() => take(i + 1));
    };
    return take(0).finally(unstall);
  }

  /**
   * Reserves budget for an allocation a call is about to make. A write passes the slots it
   * holds: it may then wait (admissionWaitMs) for shards other calls are using, or for a load or
   * unload in progress, rather than fail at once. @throws {BudgetExceededError}
   */
  reserve(owner: SlotOwner, bytes: number, kind: ReservationKind, held?: readonly Slot[]): Promise<Reservation> {
    return this.#d.governor.admit({ bytes, kind, collection: owner, label: `${kind} ${owner.name}`, ...(held === undefined ? {} : { wait: this.#waitAs(held) }) });
  }

  /** How a call holding `held` waits for an admission: those slots count as held by a waiter. */
  #waitAs(held: readonly Slot[]): { own: ReadonlySet<string>; stall: (waiting: boolean) => void } {
    return {
      own: new Set(held.map((h) => h.key)),
      stall: (waiting) => {
        for (const h of held) h.stalled += waiting ? 1 : -1;
      },
    };
  }

  release(r: Reservation): void {
    this.#d.governor.release(r);
  }

  /** The most transient bytes one part of a call reserves under the current limit (budget/transient.ts). */
  transientPartBytes(): number {
    return transientPartBytes(this.#d.governor.ledger.limitBytes);
  }

  // ---- work on entered slots ----------------------------------------------------------------

  search(slot: Slot, task: Omit<SearchTask, 'handle'>): Promise<void> {
    return this.#d.pool.run('search', { ...task, handle: slot.residentHandle() });
  }

  getVectors(slot: Slot, labels: Uint32Array): Promise<Float32Array> {
    return this.#d.pool.run('get', { handle: slot.residentHandle(), labels });
  }

  /**
   * Bytes an add of `rows` rows, `fresh` of them new ids (of `idBytes` UTF-8 bytes), and
   * `metaBytes` of metadata will allocate after growing: the segment's, id table's and metadata's
   * growth, and the shared buffer its largest part is staged in.
   */
  async prepareAdd(slot: Slot, rows: number, fresh: number, idBytes: number, held: readonly Slot[], metaBytes = 0): Promise<Reservation> {
    await this.#grow(slot, fresh, held);
    const info = native.segmentInfo(slot.residentHandle());
    const staging = Math.min(rows, this.#writePartRows(info.dim)) * writeRowBytes(info.dim);
    return this.reserve(slot.owner, addBytes(info, slot.residentIds(), fresh, idBytes) + metaBytes + staging, fresh > 0 || metaBytes > 0 ? 'growth' : 'transient', held);
  }

  prepareDelete(slot: Slot, count: number, held: readonly Slot[]): Promise<Reservation> {
    return this.reserve(slot.owner, deleteBytes(native.segmentInfo(slot.residentHandle()), count), 'transient', held);
  }

  /**
   * Adds (or upserts) rows under their ids. Ids go into the table before the segment, so a
   * query never meets a label without an id; they come out again if the segment refuses.
   * The rows reach the workers through shared memory in parts (SharedBatches); if a part
   * fails, the parts before it stay applied and `progress.applied` says how many rows that is.
   * The caller holds the slot's write turn.
   */
  async add(
    slot: Slot,
    ids: readonly string[],
    batch: BatchRows,
    upsert: boolean,
    r: Reservation,
    progress: { applied: number } = { applied: 0 },
    metadatas: readonly Metadata[] | null = null,
  ): Promise<void> {
    const table = slot.residentIds();
    try {
      const fresh = ids.filter((id) => !table.has(id));
      for (const id of fresh) table.add(id);
      try {
        const labels = Uint32Array.from(ids, (id) => table.labelOf(id) as number);
        const part = this.#writePartRows(batch.dim);
        for (let from = 0; from < ids.length; from += part) {
          const count = Math.min(part, ids.length - from);
          const partLabels = labels.subarray(from, from + count);
          const staged = await this.#batches.stage(batch, from, count, partLabels);
          try {
            // One shard's insert uses every pool thread's worth of cores: shards are a choice
            // about write isolation and file size, not the way to use cores.
            await this.#d.pool.run('add', { handle: slot.residentHandle(), labels: staged.labels, vectors: staged.vectors, upsert, threads: this.#d.threads });
          } finally {
            staged.release();
          }
          // After the segment took the rows: a search never meets metadata of a label it lacks.
          // Without metadatas an upsert keeps what the ids had (a fresh label has none: deletes clear it).
          if (metadatas !== null) this.#setMeta(slot, partLabels, metadatas.slice(from, from + count));
          progress.applied = from + count;
        }
      } catch (err) {
        const unapplied = new Set(ids.slice(progress.applied));
        for (const id of fresh) if (unapplied.has(id)) table.delete(id);
        throw err;
      }
    } finally {
      this.#settle(slot, r);
    }
  }

  /** Rows per write part: a quarter of a transient part's bytes (transient.ts), so the staging buffers stay small beside the limit. */
  #writePartRows(dim: number): number {
    return rowsPerPart(Number.MAX_SAFE_INTEGER, writeRowBytes(dim), this.transientPartBytes() / 4);
  }

  /** Bytes of the shared buffers write batches are staged in, lent or idle. */
  stagingBytes(): number {
    return this.#batches.heldBytes;
  }

  /** Maintenance: forgets idle staging buffers. */
  dropIdleStaging(): void {
    this.#batches.dropIdle();
  }

  /** Deletes ids the slot holds. The caller holds the slot's write turn. */
  async delete(slot: Slot, ids: readonly string[], r: Reservation): Promise<void> {
    const table = slot.residentIds();
    try {
      const labels = Uint32Array.from(ids, (id) => table.labelOf(id) as number);
      await this.#d.pool.run('delete', { handle: slot.residentHandle(), labels });
      for (const id of ids) table.delete(id);
      const meta = slot.residentMeta();
      for (const label of labels) meta.clear(label);
    } finally {
      this.#settle(slot, r);
    }
  }

  /**
   * Replaces the metadata of ids the slot holds (vectors untouched). The caller holds the slot's
   * write turn and reserved `r` (MetadataTable.growthBound).
   */
  setMetadata(slot: Slot, ids: readonly string[], metadatas: readonly Metadata[], r: Reservation): void {
    const table = slot.residentIds();
    try {
      this.#setMeta(slot, Uint32Array.from(ids, (id) => table.labelOf(id) as number), metadatas);
    } finally {
      this.#settle(slot, r);
    }
  }

  #setMeta(slot: Slot, labels: Uint32Array, metadatas: readonly Metadata[]): void {
    const meta = slot.residentMeta();
    labels.forEach((label, i) => meta.set(label, metadatas[i] as Metadata));
  }

  /** Records that the write logged as `lsn` is applied to the slot. */
  noteApplied(slot: Slot, lsn: number): void {
    slot.dirty = true;
    slot.appliedLsn = Math.max(slot.appliedLsn, lsn);
    if (slot.oldestUnflushedLsn === 0) slot.oldestUnflushedLsn = lsn;
  }

  // ---- flushing, unloading, dropping ---------------------------------------------------------

  /**
   * Saves every changed resident slot of one collection, holding all their write turns
   * together (a batch is in every shard's new files or in none). With a failed log the slots
   * are saved without waiting for it: this is how the in-memory state is kept (SHOAL_IO docs).
   * Returns the generations to remove once the manifest no longer names them.
   */
  flushCollection(slots: readonly Slot[]): Promise<[Slot, number][]> {
    return this.use(slots, 'resident', (held) =>
      this.inTurns(held, async () => {
        const obsolete: [Slot, number][] = [];
        for (const slot of held) {
          const previous = await this.#save(slot, this.#d.log.failed());
          if (previous > 0) obsolete.push([slot, previous]);
        }
        return obsolete;
      }),
    );
  }

  /**
   * Commits saved files: writes the manifest, then removes the files it no longer names and
   * the log files every shard's files now cover. @throws {IoError} if the manifest write fails.
   */
  async commit(obsolete: readonly [Slot, number][]): Promise<void> {
    const needed = this.#neededLsn();
    await this.#d.catalog.commit();
    for (const [slot, generation] of obsolete) this.#removeGeneration(slot, generation);
    if (!this.#d.log.failed()) await this.#d.log.removeFlushed(needed);
  }

  /**
   * Unloads a slot: calls arriving meanwhile wait, calls in flight finish, unsaved writes are
   * saved, the segment is freed. Idempotent. @throws {IoError} if saving fails (it stays resident).
   */
  async unload(slot: Slot): Promise<void> {
    for (;;) {
      if (slot.transition !== null) await slot.transition;
      else if (slot.state !== 'resident') return;
      else break;
    }
    const t = this.#begin(slot, 'draining');
    try {
      while (slot.users > 0) await slot.whenIdle();
      slot.state = 'evicting';
      await this.#evictNow(slot, 'manual');
      // Asked for explicitly: the freed memory goes back to the OS now, slack or not (an
      // eviction keeps up to the slack mapped, for the next load to reuse).
      this.#d.accounting.trimAllocator(0);
    } finally {
      this.#end(slot, t);
    }
  }

  /**
   * Frees a deleted collection's slots once nothing uses them (the caller has stopped new calls
   * and waited for those in flight); they become dropped and leave the budget.
   */
  async drop(slots: readonly Slot[]): Promise<void> {
    for (const slot of slots) {
      for (;;) {
        if (slot.transition !== null) await slot.transition;
        else if (slot.users > 0) await slot.whenIdle();
        else break;
      }
      await this.#discard(slot);
    }
    this.#d.accounting.trimAllocator(0);
  }

  /** Frees every resident slot (close, or a failed open): no saving. */
  async freeAll(): Promise<void> {
    for (const slot of [...this.#slots.values()]) await this.#discard(slot).catch(() => this.#forget(slot));
  }

  /** Marks a slot dropped and frees its segment; freed first, then taken off the ledger. */
  async #discard(slot: Slot): Promise<void> {
    const handle = slot.handle;
    slot.state = 'dropped';
    slot.handle = null;
    slot.ids = null;
    slot.meta = null;
    this.#slots.delete(slot.key);
    if (handle !== null) await this.#d.pool.run('free', { handle });
    this.#forget(slot);
  }

  /**
   * Warm start: loads an absent slot only if it fits without evicting anything. 'full' when the
   * budget has no room (the rest load on first use).
   */
  async warm(slot: Slot): Promise<'loaded' | 'skipped' | 'full'> {
    if (slot.state !== 'absent' || slot.generation === 0) return 'skipped';
    let full = false;
    const entered = await this.#enter(slot, 'load', [], async (plan) => {
      const r = await this.#d.governor.tryReserve(plan.bytes, `warm ${slot.key}`);
      if (r === null) full = true;
      return r;
    }).catch(() => false);
    if (entered) slot.leave(this.#d.clock.now());
    return entered ? 'loaded' : full ? 'full' : 'skipped';
  }

  // ---- internals ------------------------------------------------------------------------------

  #begin(slot: Slot, state: 'loading' | 'draining' | 'evicting'): Deferred {
    const t = deferred();
    slot.state = state;
    slot.transition = t.promise;
    return t;
  }

  #end(slot: Slot, t: Deferred): void {
    if (slot.state === 'draining' || slot.state === 'evicting') slot.state = slot.handle === null ? 'absent' : 'resident';
    if (slot.state === 'loading') slot.state = 'absent';
    slot.transition = null;
    t.resolve();
  }

  /**
   * Enters one slot: waits out transitions, loads it if absent (mode 'load'). Returns whether
   * it was entered. `admit` replaces the normal admission (warm start).
   */
  async #enter(
    slot: Slot,
    mode: EnterMode,
    held: readonly Slot[],
    admit?: (plan: { bytes: number }) => Promise<Reservation | null>,
  ): Promise<boolean> {
    let counted = false;
    for (;;) {
      switch (slot.state) {
        case 'resident':
          slot.users++;
          if (mode === 'load' && !counted) this.#d.governor.stats.hits++;
          return true;
        case 'loading':
        case 'draining':
        case 'evicting':
          if (mode === 'load' && !counted && admit === undefined) {
            this.#d.governor.stats.misses++;
            counted = true;
          }
          await slot.transition;
          continue;
        case 'failed':
          if (mode === 'resident') return false;
          throw this.#failure(slot);
        case 'dropped':
          if (mode === 'resident') return false;
          throw new NotFoundError(`collection ${JSON.stringify(slot.owner.name)} was deleted`, { collection: slot.owner.name });
        case 'absent':
          if (mode === 'resident') return false;
          if (!counted && admit === undefined) this.#d.governor.stats.misses++;
          counted = true;
          if (await this.#load(slot, held, admit)) return true;
          if (admit !== undefined) return false;
      }
    }
  }

  /** absent -> loading -> resident (entered by this call), or back to absent / failed. */
  async #load(slot: Slot, held: readonly Slot[], admit?: (plan: { bytes: number }) => Promise<Reservation | null>): Promise<boolean> {
    const t = this.#begin(slot, 'loading');
    try {
      const plan = this.#loadPlan(slot);
      const r =
        admit !== undefined
          ? await admit(plan)
          : await this.#d.governor.admit({
              bytes: plan.bytes,
              kind: 'load',
              collection: slot.owner,
              label: `load ${slot.key}`,
              wait: {
                own: new Set(held.map((h) => h.key)),
                stall: (waiting) => {
                  for (const h of held) h.stalled += waiting ? 1 : -1;
                },
              },
            });
      if (r === null) return false;
      const started = performance.now();
      try {
        if (slot.generation === 0) {
          slot.handle = await this.#d.pool.run('create', { spec: { ...slot.owner.spec, capacity: INITIAL_CAPACITY } });
          slot.ids = new IdTable();
          slot.meta = new MetadataTable();
        } else {
          const { handle, ids, meta } = await this.#d.pool.run('load', {
            path: this.#segmentPath(slot),
            idsPath: this.#idsPath(slot),
            metaPath: slot.hasMetaFile ? this.#metaPath(slot) : null,
            capacity: plan.capacity,
          });
          slot.handle = handle;
          slot.ids = IdTable.fromParts(ids);
          slot.meta = meta === null ? new MetadataTable() : MetadataTable.fromParts(meta);
        }
      } catch (err) {
        this.#d.governor.release(r);
        throw err;
      }
      this.#settle(slot, r);
      const loadMs = performance.now() - started;
      slot.state = 'resident';
      slot.users++;
      slot.lastUsedMs = this.#d.clock.now();
      if (plan.fileBytes > 0) this.#d.governor.stats.recordLoad(loadMs, plan.fileBytes);
      this.#d.governor.emit('loaded', { collection: slot.owner.name, shard: slot.index, bytes: this.#d.governor.heldBy(slot.key), loadMs, fileBytes: plan.fileBytes });
      return true;
    } catch (err) {
      if (err instanceof CorruptionError || (err instanceof IoError && this.#filesMissing(slot))) {
        slot.state = 'failed';
        throw this.#quarantine(slot, err instanceof CorruptionError ? err : new CorruptionError(err.message, { file: this.#segmentPath(slot) }));
      }
      throw err;
    } finally {
      this.#end(slot, t);
    }
  }

  /** What loading (or creating) a slot will allocate; checks that its files are its own. */
  #loadPlan(slot: Slot): { bytes: number; fileBytes: number; capacity: number | undefined } {
    const spec = slot.owner.spec;
    if (slot.generation === 0) return { bytes: createBytes(spec.dim, spec.M ?? 16, INITIAL_CAPACITY, this.#d.threads), fileBytes: 0, capacity: undefined };
    const path = this.#segmentPath(slot);
    const summary = native.readSegmentFile(path);
    if (summary.dim !== spec.dim || summary.space !== spec.space) {
      throw new CorruptionError(
        `${path}: the file holds a segment of dim ${summary.dim}, space ${summary.space}; collection ${JSON.stringify(slot.owner.name)} has dim ${spec.dim}, space ${spec.space}`,
        { file: path, expectedDim: spec.dim, foundDim: summary.dim, expectedSpace: spec.space, foundSpace: summary.space },
      );
    }
    const { head, size } = readHead(this.#idsPath(slot), ID_FILE_HEAD_BYTES);
    const ids = summarizeIdFile(head, size, this.#idsPath(slot));
    let metaBytes = new MetadataTable().bytes();
    if (slot.hasMetaFile) {
      const m = readHead(this.#metaPath(slot), META_FILE_HEAD_BYTES);
      metaBytes = metaFileLoadBytes(m.head, m.size, this.#metaPath(slot));
    }
    return {
      bytes: loadBytes(summary, ids, this.#d.threads) + metaBytes,
      fileBytes: summary.fileBytes,
      capacity: loadCapacity(summary.count + summary.deletedCount),
    };
  }

  /** Grows a resident slot's capacity (by half again, repeatedly) until `fresh` more ids fit. */
  async #grow(slot: Slot, fresh: number, held: readonly Slot[]): Promise<void> {
    const info = native.segmentInfo(slot.residentHandle());
    const needed = info.count + fresh;
    if (needed <= info.capacity) return;
    const capacity = grownCapacity(info.capacity, needed, INITIAL_CAPACITY);
    const r = await this.reserve(slot.owner, growBytes(info, capacity, this.#d.threads), 'growth', held);
    try {
      await this.#d.pool.run('resize', { handle: slot.residentHandle(), capacity });
    } finally {
      this.#settle(slot, r);
    }
  }

  /** Records a slot's exact bytes in the budget after it changed. */
  #settle(slot: Slot, r?: Reservation): void {
    const { exact, headroom } = this.#d.accounting.measure(slot.key, slot.handle, slot.ids, slot.meta);
    this.#d.governor.settle(slot.key, exact, headroom, r);
  }

  #forget(slot: Slot): void {
    this.#d.accounting.measure(slot.key, null, null, null);
    this.#d.governor.settle(slot.key, 0, 0);
  }

  /**
   * Writes a new generation of files if the slot changed; returns the generation whose files
   * to remove once the manifest names the new one (0: none). The caller holds the slot
   * exclusively (its write turn, or the evicting state).
   */
  async #save(slot: Slot, ignoreLog = false): Promise<number> {
    if (!slot.dirty || slot.handle === null || slot.ids === null || slot.meta === null) return 0;
    slot.saving = true;
    try {
      // Files must not get ahead of the log: a write they hold must be recoverable for the
      // batch's other shards too.
      if (!ignoreLog) await this.#d.log.durable(slot.appliedLsn);
      const next = slot.generation + 1;
      writeFileAtomic(idsPath(this.#d.root, slot.owner.name, slot.index, next), encodeIdFile(slot.ids));
      writeFileAtomic(metaPath(this.#d.root, slot.owner.name, slot.index, next), encodeMetaFile(slot.meta));
      await this.#d.pool.run('save', { handle: slot.handle, path: segmentPath(this.#d.root, slot.owner.name, slot.index, next) });
      const previous = slot.generation;
      slot.generation = next;
      slot.hasMetaFile = true;
      slot.storedCount = slot.ids.size;
      slot.dirty = false;
      slot.flushedLsn = slot.appliedLsn;
      slot.oldestUnflushedLsn = 0;
      this.#d.catalog.setShard(slot.owner.name, slot.index, { generation: next, count: slot.storedCount, flushedLsn: slot.flushedLsn, metadata: true });
      return previous;
    } finally {
      slot.saving = false;
    }
  }

  /** Saves (if dirty), commits and frees a slot in the evicting state. On failure it stays resident. */
  async #evictNow(slot: Slot, reason: EvictionReason): Promise<void> {
    const bytes = this.#d.governor.heldBy(slot.key);
    const flushed = slot.dirty;
    const previous = await this.#save(slot);
    if (flushed) await this.commit(previous > 0 ? [[slot, previous]] : []);
    const handle = slot.residentHandle();
    slot.storedCount = slot.count;
    slot.handle = null;
    slot.ids = null;
    slot.meta = null;
    // Freed first, then taken off the ledger: accounted bytes never fall below what exists.
    await this.#d.pool.run('free', { handle });
    this.#forget(slot);
    this.#d.governor.stats.recordEviction(reason, slot.owner.name, slot.index, bytes, flushed, this.#d.clock.now());
    this.#d.governor.emit('evicted', { collection: slot.owner.name, shard: slot.index, bytes, reason, flushed });
  }

  /** The oldest LSN some slot's files still lack: the log must keep it and everything after. */
  #neededLsn(): number {
    let needed = this.#d.log.lastLsn() + 1;
    for (const s of this.#slots.values()) if (s.oldestUnflushedLsn > 0) needed = Math.min(needed, s.oldestUnflushedLsn);
    return needed;
  }

  /**
   * A slot's files are damaged: move them aside (never delete them), fail its collection with
   * an error naming the file and the damage, and let every other collection go on.
   */
  #quarantine(slot: Slot, err: CorruptionError): CorruptionError {
    const files = [this.#segmentPath(slot), this.#idsPath(slot), ...(slot.hasMetaFile ? [this.#metaPath(slot)] : [])];
    const kept = files.filter((f) => existsSync(f)).map((f) => moveAside(f));
    const failure = new CorruptionError(
      `collection ${JSON.stringify(slot.owner.name)} cannot be loaded: ${err.message}. ` +
        `${kept.length > 0 ? `Its files were moved aside as ${kept.join(' and ')}; d` : 'D'}elete the collection to go on without it.`,
      { ...err.details, collection: slot.owner.name, file: files[0] as string, keptAs: kept.join(',') },
      err.code,
    );
    slot.owner.fail(failure);
    this.#d.catalog.update(slot.owner.name, { failure: { message: failure.message, file: files[0] as string, keptAs: kept.join(',') } });
    this.#d.catalog.commit().catch(() => undefined); // the manifest remembers the failure across restarts
    return failure;
  }

  #failure(slot: Slot): CorruptionError {
    return new CorruptionError(`collection ${JSON.stringify(slot.owner.name)} is damaged: delete it to go on without it`, { collection: slot.owner.name });
  }

  #filesMissing(slot: Slot): boolean {
    return slot.generation > 0 && (!existsSync(this.#segmentPath(slot)) || !existsSync(this.#idsPath(slot)) || (slot.hasMetaFile && !existsSync(this.#metaPath(slot))));
  }

  /**
   * Keeps every generation's files in place until the returned function is called: a backup
   * copies the generations its snapshot of the catalog names, which a flush meanwhile would
   * otherwise remove. The removals deferred run on release.
   */
  retainFiles(): () => void {
    this.#retained++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#retained > 0) return;
      for (const [slot, generation] of this.#deferredRemovals.splice(0)) this.#removeGeneration(slot, generation);
    };
  }

  #removeGeneration(slot: Slot, generation: number): void {
    // A dropped slot's files went with its collection's folder; the same paths may already
    // belong to a new collection of that name.
    if (generation === 0 || slot.state === 'dropped') return;
    if (this.#retained > 0) {
      this.#deferredRemovals.push([slot, generation]);
      return;
    }
    // A file left behind is removed by the next open's sweep: never worth failing a call for.
    const name = slot.owner.name;
    for (const path of [segmentPath(this.#d.root, name, slot.index, generation), idsPath(this.#d.root, name, slot.index, generation), metaPath(this.#d.root, name, slot.index, generation)]) {
      try {
        rmSync(path, { force: true });
      } catch {
        /* swept at the next open */
      }
    }
  }

  #segmentPath(slot: Slot): string {
    return segmentPath(this.#d.root, slot.owner.name, slot.index, slot.generation);
  }

  #idsPath(slot: Slot): string {
    return idsPath(this.#d.root, slot.owner.name, slot.index, slot.generation);
  }

  #metaPath(slot: Slot): string {
    return metaPath(this.#d.root, slot.owner.name, slot.index, slot.generation);
  }
}

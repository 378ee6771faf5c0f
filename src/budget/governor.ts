/**
 * The governor: the only place that acts on budget decisions. It loads shards when calls need
 * them (after reserving their bytes), evicts shards (flushing unsaved writes first), runs TTL
 * and threshold checks, applies reconfiguration, and keeps the statistics. Every decision
 * comes from the pure functions in policy.ts and thresholds.ts; every byte goes through the
 * ledger. Decisions that allocate or evict run one at a time (#turn), so two admissions never
 * plan with the same free bytes.
 *
 * Invariant: ledger.usedBytes <= limit at every await point.
 *
 * Its size (about 650 lines) is one state machine: admission, loading, eviction, quarantine,
 * warm loads, thresholds and TTL all change the same ledger and shard states in the same turn
 * discipline. The decisions themselves live in policy.ts, thresholds.ts and sizes.ts.
 */
import { BudgetExceededError, CorruptionError, type ResidentShare } from '../errors.js';
import type { Config } from '../config.js';
import { native } from '../native/binding.js';
import type { Shard, ShardContext } from '../shard.js';
import { INITIAL_CAPACITY, removeGeneration } from '../shard.js';
import { readIdsSummary } from '../storage/id-file.js';
import { idsPath, segmentPath } from '../storage/layout.js';
import { moveAside } from '../storage/wal.js';
import type { Clock } from './clock.js';
import { Ledger, type Reservation } from './ledger.js';
import {
  planAdmission,
  planEmergencyEviction,
  planExpiry,
  planSoftEviction,
  type EvictionReason,
  type Priority,
  type Resident,
  type Victim,
} from './policy.js';
import { allocatorSlackBytes, createBytes, loadBytes, loadCapacity, visitedHeadroom } from './sizes.js';
import { admissionCeiling, LEVELS, nextLevel, type Level } from './thresholds.js';
import { Stats } from './stats.js';

/** Budget settings a collection carries. */
export interface BudgetOwner {
  readonly name: string;
  priority: Priority;
  pinned: boolean;
  /** Most bytes this collection's resident shards may hold; 0: no quota. */
  quotaBytes: number;
  /** Marks the collection unusable: its files are damaged. */
  fail(error: CorruptionError): void;
}

export interface ShardEntry {
  readonly key: string;
  readonly shard: Shard;
  readonly context: ShardContext;
  readonly owner: BudgetOwner;
}

export interface LoadedEvent { readonly collection: string; readonly shard: number; readonly bytes: number; readonly loadMs: number }
export interface EvictedEvent { readonly collection: string; readonly shard: number; readonly bytes: number; readonly reason: EvictionReason; readonly flushed: boolean }
export interface RejectedEvent { readonly collection: string | null; readonly wantedBytes: number; readonly usedBytes: number; readonly limitBytes: number; readonly reason: string }
export interface ThresholdEvent { readonly level: Level; readonly previous: Level; readonly usedBytes: number; readonly limitBytes: number }

export interface GovernorEvents {
  loaded: LoadedEvent;
  evicted: EvictedEvent;
  rejected: RejectedEvent;
  threshold: ThresholdEvent;
}

export type Emit = <K extends keyof GovernorEvents>(event: K, payload: GovernorEvents[K]) => void;

/** A load admitted in turn: its reservation, and how to report its end to other waiters. */
interface Admitted {
  readonly reservation: Reservation;
  readonly fileBytes: number;
  readonly capacity: number | undefined;
  readonly done: (err: unknown) => void;
}

/** What a reservation is for: loads and growth are refused above the emergency threshold. */
export type ReservationKind = 'load' | 'growth' | 'transient';

export class Governor {
  #config: Config;
  #clock: Clock;
  #emit: Emit;
  #persist: () => Promise<void>;
  readonly ledger: Ledger;
  readonly stats = new Stats();
  #entries = new Map<string, ShardEntry>();
  #headroom = new Map<string, Reservation>();
  #level: Level = 'normal';
  #turn: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;
  #relieving = false;
  /** Loads that calls are waiting for, and who waits for them to finish (warm start). */
  #foregroundLoads = 0;
  #foregroundDone: (() => void)[] = [];
  /** Native bytes last reported to V8 as external memory, and each resident shard's share. */
  #reportedExternal = 0;
  #nativeResident = new Map<string, number>();
  #nativeResidentTotal = 0;

  /** `persist` writes the manifest: an eviction that flushed a shard commits through it. */
  constructor(config: Config, clock: Clock, emit: Emit, persist: () => Promise<void>) {
    this.#config = config;
    this.#clock = clock;
    // A listener that throws must not break the budget's bookkeeping mid-step.
    this.#emit = (event, payload) => {
      try {
        emit(event, payload);
      } catch (err) {
        process.emitWarning(`shoal: a '${event}' listener threw: ${(err as Error).message}`, 'ShoalListenerWarning');
      }
    };
    this.#persist = persist;
    this.ledger = new Ledger(config.memoryLimitBytes);
    native.setAllocatorSlack(allocatorSlackBytes(config.memoryLimitBytes));
    this.#startTimer();
  }

  get config(): Config {
    return this.#config;
  }

  get level(): Level {
    return this.#level;
  }

  register(entry: ShardEntry): void {
    this.#entries.set(entry.key, entry);
  }

  /** Forgets a shard the caller has already released (its bytes leave the ledger). */
  unregister(key: string): void {
    this.#entries.delete(key);
    this.#dropHeadroom(key);
    this.#setNative(key, 0);
    this.ledger.settle(key, 0);
    this.#checkLevel();
  }

  entries(): IterableIterator<ShardEntry> {
    return this.#entries.values();
  }

  entry(key: string): ShardEntry | undefined {
    return this.#entries.get(key);
  }

  /**
   * Runs `body` with every shard in `entries` resident and marked in use (so none is evicted
   * meanwhile). Loads what is not resident, after reserving its bytes.
   * @throws {BudgetExceededError} when a shard cannot be made resident.
   */
  async use<T>(entries: readonly ShardEntry[], body: () => Promise<T>): Promise<T> {
    const entered: ShardEntry[] = [];
    try {
      for (const entry of entries) {
        while (entry.shard.evicting !== null) await entry.shard.evicting;
        entry.shard.enter();
        entered.push(entry);
        if (entry.shard.resident) this.stats.hits++;
        else {
          this.stats.misses++;
          await this.#loadWaiting(entry, entered);
        }
      }
      return await body();
    } finally {
      const now = this.#clock.now();
      for (const entry of entered) entry.shard.leave(now);
    }
  }

  /**
   * Reserves `bytes` for an allocation a call in progress is about to make, evicting other
   * shards if needed. @throws {BudgetExceededError}
   */
  async reserve(bytes: number, kind: ReservationKind, owner: BudgetOwner | null, label: string): Promise<Reservation> {
    // Query scratch and the like: short-lived and always allowed; if it fits, no need to queue.
    if (kind === 'transient' && this.ledger.fits(bytes)) return this.#reserveNow(bytes, label);
    return this.#inTurn(async () => this.#admit(bytes, kind, owner, label)).catch((err: unknown) => {
      throw err instanceof BudgetExceededError ? this.#report(err) : err;
    });
  }

  release(r: Reservation): void {
    this.ledger.release(r);
    this.#checkLevel();
  }

  /** Records a resident shard's exact bytes after an operation, releasing the reservation that covered it. */
  settle(entry: ShardEntry, r?: Reservation): void {
    this.#dropHeadroom(entry.key);
    this.#setNative(entry.key, entry.shard.resident ? native.segmentBytes(entry.shard.handle) : 0);
    this.ledger.settle(entry.key, this.#exactBytes(entry), r);
    this.#keepHeadroom(entry);
    this.#checkLevel();
  }

  /**
   * Warm start: loads `entry` only if it fits without evicting anything and nothing else is
   * waiting for the budget. Returns whether it loaded.
   */
  async warm(entry: ShardEntry): Promise<'loaded' | 'skipped' | 'full'> {
    const { context, shard } = entry;
    // Decided in turn (the bytes are reserved there), loaded outside it, so no call waits for
    // a warm-up load except one that needs this very shard.
    let fileBytes = 0;
    let capacity: number | undefined;
    const r = await this.#inTurn(async (): Promise<Reservation | 'loaded' | 'skipped' | 'full'> => {
      if (shard.resident || shard.loading !== null) return 'loaded';
      if (shard.generation === 0) return 'skipped';
      if (this.#level !== 'normal') return 'full';
      let bytes: number;
      try {
        const summary = native.readSegmentFile(segmentPath(context.root, context.collection, shard.index, shard.generation));
        const ids = readIdsSummary(idsPath(context.root, context.collection, shard.index, shard.generation));
        bytes = loadBytes(summary, ids, this.#config.threads);
        fileBytes = summary.fileBytes;
        capacity = loadCapacity(summary.count + summary.deletedCount);
      } catch (err) {
        if (err instanceof CorruptionError) this.#quarantine(entry, err);
        return 'skipped';
      }
      if (!this.ledger.fits(bytes)) return 'full';
      shard.enter();
      return this.#reserveNow(bytes, `warm ${entry.key}`);
    });
    if (typeof r === 'string') return r;
    const started = performance.now();
    shard.loading = shard.load(context, capacity);
    try {
      await shard.loading;
      this.settle(entry, r);
      this.stats.recordLoad(performance.now() - started, fileBytes);
      this.#emit('loaded', { collection: entry.owner.name, shard: shard.index, bytes: this.ledger.residentOf(entry.key), loadMs: performance.now() - started });
      return 'loaded';
    } catch (err) {
      this.release(r);
      if (err instanceof CorruptionError) this.#quarantine(entry, err);
      return 'skipped';
    } finally {
      shard.loading = null;
      shard.leave(this.#clock.now());
    }
  }

  /** Unloads a shard: waits for calls using it, flushes unsaved writes, frees it. Idempotent. */
  async unload(entry: ShardEntry, reason: EvictionReason): Promise<void> {
    while (entry.shard.evicting !== null) await entry.shard.evicting;
    if (!entry.shard.resident) return;
    await entry.shard.drain();
    await this.#inTurn(() => this.#evict(entry, reason));
  }

  /** Runs the TTL sweep and threshold relief now (the timer calls this every maintenanceIntervalMs). */
  maintain(): Promise<void> {
    return this.#inTurn(async () => {
      const now = this.#clock.now();
      for (const v of planExpiry(this.#residents(), this.#config.ttlMs, now)) await this.#evictVictim(v);
      await this.#relieve();
    });
  }

  /** Applies a new configuration; shrinking the limit evicts first. @throws {BudgetExceededError} (nothing changed). */
  configure(next: Config): Promise<void> {
    return this.#inTurn(async () => {
      if (next.memoryLimitBytes < this.ledger.usedBytes) {
        const cfg = { limitBytes: next.memoryLimitBytes, targetFraction: next.evictionTarget, ttlMs: next.ttlMs };
        const plan = planAdmission(this.#residents(), this.ledger.usedBytes, 0, cfg, this.#clock.now());
        if (plan.kind === 'reject') throw this.#report(this.#rejection(0, null, 'the new limit is below the bytes that cannot be evicted', next.memoryLimitBytes));
        if (plan.kind === 'evict') for (const v of plan.victims) await this.#evictVictim({ ...v, reason: 'reconfigure' });
        if (this.ledger.usedBytes > next.memoryLimitBytes) {
          throw this.#report(this.#rejection(0, null, 'the new limit is below the bytes in use by calls in flight', next.memoryLimitBytes));
        }
      }
      this.ledger.setLimit(next.memoryLimitBytes);
      native.setAllocatorSlack(allocatorSlackBytes(next.memoryLimitBytes));
      this.#config = next;
      this.#startTimer();
      this.#checkLevel();
    });
  }

  /** Bytes held per collection, for errors and stats. */
  breakdown(): ResidentShare[] {
    const shares = new Map<string, ResidentShare>();
    for (const entry of this.#entries.values()) {
      const bytes = this.ledger.residentOf(entry.key) + (this.#headroom.get(entry.key)?.bytes ?? 0);
      const prior = shares.get(entry.owner.name);
      shares.set(entry.owner.name, {
        collection: entry.owner.name,
        bytes: (prior?.bytes ?? 0) + bytes,
        pinned: entry.owner.pinned,
        priority: entry.owner.priority,
      });
    }
    return [...shares.values()].filter((s) => s.bytes > 0).sort((a, b) => b.bytes - a.bytes);
  }

  pinnedBytes(): number {
    let sum = 0;
    for (const entry of this.#entries.values()) if (entry.owner.pinned) sum += this.ledger.residentOf(entry.key) + (this.#headroom.get(entry.key)?.bytes ?? 0);
    return sum;
  }

  /** Resolves once queued budget work (threshold relief, evictions, loads) has finished. */
  async idle(): Promise<void> {
    for (;;) {
      const turn = this.#turn;
      await turn;
      if (turn === this.#turn) return;
    }
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Bytes currently reported to V8 as external memory. */
  get reportedExternalBytes(): number {
    return this.#reportedExternal;
  }

  // ---- internals --------------------------------------------------------------------------

  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(work, work);
    this.#turn = run.catch(() => undefined);
    return run;
  }

  #reserveNow(bytes: number, label: string): Reservation {
    const r = this.ledger.reserve(bytes, label);
    this.#checkLevel();
    return r;
  }

  /** Makes room for `bytes` (evicting as the policy allows) and reserves it. Runs in turn. */
  async #admit(bytes: number, kind: ReservationKind, owner: BudgetOwner | null, label: string): Promise<Reservation> {
    if (this.#level === 'emergency' && kind !== 'transient') {
      throw this.#rejection(bytes, owner?.name ?? null, 'memory is above the emergency threshold: new loads and growth are refused');
    }
    if (owner !== null && owner.quotaBytes > 0) {
      const held = this.breakdown().find((s) => s.collection === owner.name)?.bytes ?? 0;
      if (held + bytes > owner.quotaBytes) {
        throw this.#rejection(bytes, owner.name, `collection ${owner.name} would exceed its quota of ${owner.quotaBytes} bytes`);
      }
    }
    // At the hard level, or when this admission would reach it, the admission first evicts
    // until it stays at most at the hard threshold: one admission must not jump usage toward
    // emergency.
    const projected = (this.ledger.usedBytes + bytes) / this.ledger.limitBytes;
    const ceiling = admissionCeiling(this.#level, projected, this.#config.thresholds);
    if (this.#config.cachePolicy === 'lru') {
      const cfg = { limitBytes: this.ledger.limitBytes, targetFraction: this.#config.evictionTarget, ttlMs: this.#config.ttlMs };
      const plan = planAdmission(this.#residents(), this.ledger.usedBytes, bytes, cfg, this.#clock.now(), ceiling);
      if (plan.kind === 'evict') for (const v of plan.victims) await this.#evictVictim(v);
    }
    if (!this.ledger.fits(bytes)) throw this.#rejection(bytes, owner?.name ?? null, 'not enough memory can be evicted');
    return this.#reserveNow(bytes, label);
  }

  /**
   * Loads `entry`; when room could be made only by evicting shards other calls are using,
   * waits (up to admissionWaitMs) for one of them to be released, then tries again. Shards
   * this call itself holds (`held`) are never waited for: that would wait forever.
   */
  async #loadWaiting(entry: ShardEntry, held: readonly ShardEntry[]): Promise<void> {
    this.#foregroundLoads++;
    try {
      await this.#loadWaitingNow(entry, held);
    } finally {
      if (--this.#foregroundLoads === 0) for (const done of this.#foregroundDone.splice(0)) done();
    }
  }

  /** Resolves when no call is waiting for a load (warm start yields to them). */
  foregroundLoadsDone(): Promise<void> {
    if (this.#foregroundLoads === 0) return Promise.resolve();
    return new Promise((done) => this.#foregroundDone.push(done));
  }

  async #loadWaitingNow(entry: ShardEntry, held: readonly ShardEntry[]): Promise<void> {
    const { shard, context } = entry;
    const deadline = performance.now() + this.#config.admissionWaitMs;
    for (;;) {
      if (shard.loading !== null) await shard.loading.catch(() => undefined); // another call's load
      if (shard.resident) return;
      let admitted: Admitted | null;
      try {
        admitted = await this.#inTurn(() => this.#admitLoad(entry));
      } catch (err) {
        if (err instanceof CorruptionError) throw this.#quarantine(entry, err);
        if (!(err instanceof BudgetExceededError)) throw err;
        const blockers = this.#busyBlockers(err.wantedBytes, held);
        const left = deadline - performance.now();
        if (blockers.length === 0 || left <= 0) throw this.#report(err);
        this.stats.admissionWaits++;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          ...blockers.map((b) => b.shard.drain()),
          new Promise<void>((done) => (timer = setTimeout(done, left))),
        ]);
        clearTimeout(timer);
        continue;
      }
      if (admitted === null) continue;
      // The bytes are reserved: the load itself runs outside the turn, beside other loads.
      const started = performance.now();
      try {
        await shard.load(context, admitted.capacity);
      } catch (err) {
        this.release(admitted.reservation);
        admitted.done(err);
        throw err instanceof CorruptionError ? this.#quarantine(entry, err) : err;
      }
      const loadMs = performance.now() - started;
      this.settle(entry, admitted.reservation);
      shard.lastUsedMs = this.#clock.now();
      admitted.done(null);
      if (admitted.fileBytes > 0) this.stats.recordLoad(loadMs, admitted.fileBytes);
      this.#emit('loaded', { collection: entry.owner.name, shard: shard.index, bytes: this.ledger.residentOf(entry.key), loadMs });
      return;
    }
  }

  /**
   * In turn: reserves what loading (or creating) `entry` will allocate, evicting as the policy
   * allows, and marks the shard as loading so no other call loads it too. Null if it became
   * resident or began loading meanwhile.
   */
  async #admitLoad(entry: ShardEntry): Promise<Admitted | null> {
    const { shard, context } = entry;
    if (shard.resident || shard.loading !== null) return null;
    const threads = this.#config.threads;
    let bytes: number;
    let fileBytes = 0;
    let capacity: number | undefined;
    if (shard.generation === 0) {
      bytes = createBytes(context.spec.dim, context.spec.M ?? 16, INITIAL_CAPACITY, threads);
    } else {
      const summary = native.readSegmentFile(segmentPath(context.root, context.collection, shard.index, shard.generation));
      const ids = readIdsSummary(idsPath(context.root, context.collection, shard.index, shard.generation));
      bytes = loadBytes(summary, ids, threads);
      fileBytes = summary.fileBytes;
      capacity = loadCapacity(summary.count + summary.deletedCount);
    }
    const reservation = await this.#admit(bytes, 'load', entry.owner, `load ${entry.key}`);
    let done!: (err: unknown) => void;
    shard.loading = new Promise<void>((resolve, reject) => {
      done = (err) => {
        shard.loading = null;
        if (err === null) resolve();
        else reject(err);
      };
    });
    shard.loading.catch(() => undefined); // waiters handle it; never an unhandled rejection
    return { reservation, fileBytes, capacity, done };
  }

  /** Resident shards that other calls are using, when evicting them would make room for `wantedBytes`. */
  #busyBlockers(wantedBytes: number, held: readonly ShardEntry[]): ShardEntry[] {
    const mine = new Set(held.map((e) => e.key));
    const residents = this.#residents().map((r) => (r.busy && !mine.has(r.key) ? { ...r, busy: false } : r));
    const cfg = { limitBytes: this.ledger.limitBytes, targetFraction: this.#config.evictionTarget, ttlMs: this.#config.ttlMs };
    if (this.#config.cachePolicy === 'none' || planAdmission(residents, this.ledger.usedBytes, wantedBytes, cfg, this.#clock.now()).kind === 'reject') return [];
    return [...this.#entries.values()].filter(
      (e) => e.shard.resident && e.shard.users > 0 && !mine.has(e.key) && !e.owner.pinned && e.owner.priority !== 'critical',
    );
  }

  /**
   * A shard's files are damaged: move them aside (never delete them), fail its collection with
   * an error naming the file and the damage, and let every other collection go on.
   */
  #quarantine(entry: ShardEntry, err: CorruptionError): CorruptionError {
    const { context, shard } = entry;
    const files = [segmentPath(context.root, context.collection, shard.index, shard.generation), idsPath(context.root, context.collection, shard.index, shard.generation)];
    const kept = files.map((f) => moveAside(f));
    const failure = new CorruptionError(
      `collection ${JSON.stringify(entry.owner.name)} cannot be loaded: ${err.message}. ` +
        `Its files were moved aside as ${kept.join(' and ')}; delete the collection to go on without it.`,
      { ...err.details, collection: entry.owner.name, file: files[0] as string, keptAs: kept.join(',') },
      err.code,
    );
    entry.owner.fail(failure);
    this.#persist().catch(() => undefined); // the manifest remembers the failure across restarts
    return failure;
  }

  /** Evicts a planned victim if it is still resident and idle (it may have been taken meanwhile). */
  async #evictVictim(v: Victim): Promise<void> {
    const entry = this.#entries.get(v.key);
    if (entry === undefined || !entry.shard.resident || entry.shard.users > 0) return;
    await this.#evict(entry, v.reason);
  }

  /** Flushes (if dirty) and frees an idle resident shard. Runs in turn. */
  async #evict(entry: ShardEntry, reason: EvictionReason): Promise<void> {
    const { shard, context } = entry;
    if (!shard.resident) return;
    let finish!: () => void;
    shard.evicting = new Promise((done) => (finish = done));
    try {
      const bytes = this.ledger.residentOf(entry.key) + (this.#headroom.get(entry.key)?.bytes ?? 0);
      const flushed = shard.dirty;
      const previous = await shard.exclusive(() => shard.save(context));
      if (flushed) {
        await this.#persist();
        removeGeneration(context, shard.index, previous);
      }
      await shard.release(context);
      this.#dropHeadroom(entry.key);
      this.#setNative(entry.key, 0);
      this.ledger.settle(entry.key, 0);
      this.stats.recordEviction(reason, entry.owner.name, shard.index, bytes, flushed, this.#clock.now());
      this.#emit('evicted', { collection: entry.owner.name, shard: shard.index, bytes, reason, flushed });
      this.#checkLevel();
    } finally {
      shard.evicting = null;
      finish();
    }
  }

  /**
   * Threshold relief: soft evicts expired and low-priority shards, emergency everything but
   * critical. Shards in use are skipped; a later maintain() evicts them once idle.
   */
  async #relieve(): Promise<void> {
    const limitBytes = this.ledger.limitBytes;
    const cfg = { limitBytes, targetFraction: this.#config.evictionTarget, ttlMs: this.#config.ttlMs };
    if (this.#config.cachePolicy === 'none') return;
    if (this.#level === 'emergency') {
      for (const v of planEmergencyEviction(this.#residents())) await this.#evictVictim(v);
    } else if (this.#level !== 'normal') {
      for (const v of planSoftEviction(this.#residents(), this.ledger.usedBytes, cfg, this.#clock.now())) await this.#evictVictim(v);
    }
  }

  #checkLevel(): void {
    this.#reportExternal();
    const limit = this.ledger.limitBytes;
    const level = nextLevel(this.#level, limit > 0 ? this.ledger.usedBytes / limit : 1, this.#config.thresholds);
    if (level === this.#level) return;
    const previous = this.#level;
    this.#level = level;
    this.stats.levelChanges++;
    this.#emit('threshold', { level, previous, usedBytes: this.ledger.usedBytes, limitBytes: limit });
    if (level !== 'normal' && LEVELS.indexOf(level) > LEVELS.indexOf(previous) && !this.#relieving) {
      this.#relieving = true;
      // Queued behind the current decision, not awaited: the call that crossed the threshold
      // does not wait for the relief. idle() does.
      this.#inTurn(() => this.#relieve())
        .catch(() => undefined)
        .finally(() => (this.#relieving = false));
    }
  }

  /**
   * Keeps V8's count of external memory in step with the resident native bytes (segments only:
   * id tables are typed arrays, which V8 counts already).
   */
  #reportExternal(): void {
    const delta = this.#nativeResidentTotal - this.#reportedExternal;
    if (delta === 0) return;
    native.adjustExternalMemory(delta);
    this.#reportedExternal += delta;
  }

  /** Records a shard's native (segment) bytes, keeping their running total. */
  #setNative(key: string, bytes: number): void {
    this.#nativeResidentTotal += bytes - (this.#nativeResident.get(key) ?? 0);
    if (bytes > 0) this.#nativeResident.set(key, bytes);
    else this.#nativeResident.delete(key);
  }

  #residents(): Resident[] {
    const out: Resident[] = [];
    for (const entry of this.#entries.values()) {
      if (!entry.shard.resident) continue;
      out.push({
        key: entry.key,
        collection: entry.owner.name,
        bytes: this.ledger.residentOf(entry.key) + (this.#headroom.get(entry.key)?.bytes ?? 0),
        priority: entry.owner.priority,
        lastUsedMs: entry.shard.lastUsedMs,
        pinned: entry.owner.pinned,
        busy: entry.shard.users > 0 || entry.shard.evicting !== null,
      });
    }
    return out;
  }

  #exactBytes(entry: ShardEntry): number {
    if (!entry.shard.resident) return 0;
    return native.segmentBytes(entry.shard.handle) + entry.shard.ids.bytes();
  }

  /**
   * Reserves the visited lists a resident shard may still allocate under concurrent searches.
   * Loads and growth reserved them already (their estimates assume `threads` searchers), so
   * this fits; if it ever does not, the ledger counts an overshoot.
   */
  #keepHeadroom(entry: ShardEntry): void {
    if (!entry.shard.resident) return;
    const bytes = visitedHeadroom(native.segmentInfo(entry.shard.handle), this.#config.threads);
    if (bytes > 0) this.#headroom.set(entry.key, this.ledger.reserve(bytes, `visited lists ${entry.key}`, true));
  }

  #dropHeadroom(key: string): void {
    const r = this.#headroom.get(key);
    if (r === undefined) return;
    this.ledger.release(r);
    this.#headroom.delete(key);
  }

  #rejection(wantedBytes: number, collection: string | null, reason: string, limitBytes = this.ledger.limitBytes): BudgetExceededError {
    const usedBytes = this.ledger.usedBytes;
    const pinnedBytes = this.pinnedBytes();
    return new BudgetExceededError(
      `memory budget: need ${wantedBytes} more bytes${collection === null ? '' : ` for ${collection}`}; ` +
        `${usedBytes} of ${limitBytes} in use, ${pinnedBytes} pinned: ${reason}`,
      { wantedBytes, limitBytes, usedBytes, pinnedBytes, breakdown: this.breakdown(), reason, ...(collection === null ? {} : { collection }) },
    );
  }

  /** Counts and announces a rejection the caller will see (not one a waiting load retries). */
  #report(err: BudgetExceededError): BudgetExceededError {
    this.stats.rejections++;
    this.#emit('rejected', {
      collection: (err.details['collection'] as string | undefined) ?? null,
      wantedBytes: err.wantedBytes,
      usedBytes: err.usedBytes,
      limitBytes: err.limitBytes,
      reason: err.details['reason'] as string,
    });
    return err;
  }

  #startTimer(): void {
    this.stop();
    if (this.#config.maintenanceIntervalMs > 0 && (this.#config.ttlMs > 0 || this.#config.memoryLimitBytes < Number.MAX_SAFE_INTEGER)) {
      this.#timer = setInterval(() => {
        this.maintain().catch(() => undefined);
      }, this.#config.maintenanceIntervalMs);
      this.#timer.unref();
    }
  }
}

/**
 * The governor: the memory budget's bookkeeper and decider. It keeps the ledger (every byte
 * resident or reserved), the threshold level, the counters, and the one queue in which budget
 * decisions run (#turn), so two admissions never plan with the same free bytes. What to evict,
 * when to wait and when to refuse come from the pure functions in policy.ts and thresholds.ts;
 * the governor carries the plans out through an Evictor (the shard store, or a fake in tests).
 * It never touches a shard, a file, the pool or the addon.
 *
 * Lock order (docs/internals.md, "Lock order"): a budget turn may call Evictor.evict, which
 * never waits for a call, a write turn or the budget turn; so nothing that waits inside a turn
 * can wait for the turn. Waiting for busy shards (an admission wait) happens outside the turn.
 *
 * Invariant: ledger.usedBytes <= limit at every await point.
 */
import type { Config } from '../config.js';
import { BudgetExceededError, type ResidentShare } from '../errors.js';
import type { Clock } from './clock.js';
import { Ledger, type Reservation } from './ledger.js';
import {
  planAdmission,
  planAdmissionWait,
  planEmergencyEviction,
  planExpiry,
  planSoftEviction,
  type EvictionReason,
  type Holder,
  type PolicyConfig,
  type Priority,
  type Resident,
  type Victim,
} from './policy.js';
import { Stats } from './stats.js';
import { planTransientWait } from './transient.js';
import { admissionCeiling, LEVELS, nextLevel, type Level } from './thresholds.js';

/** One shard as the budget sees it. */
export interface ShardView {
  readonly key: string;
  readonly collection: string;
  readonly priority: Priority;
  readonly pinned: boolean;
  readonly lastUsedMs: number;
  readonly resident: boolean;
  /** In use, or between states: it cannot be evicted now. */
  readonly busy: boolean;
  readonly users: number;
  readonly stalled: number;
  /** Being unloaded or evicted: its bytes are about to be freed. */
  readonly leaving: boolean;
}

/** What the governor needs from whoever owns the shards. */
export interface Evictor {
  shards(): Iterable<ShardView>;
  /**
   * Flushes and frees the shard if it is resident and idle at the moment of the call; returns
   * whether it did. Must never wait for a call, a write turn or the budget turn.
   */
  evict(key: string, reason: EvictionReason): Promise<boolean>;
  /** Resolves once one of these shards has no users, or ends its load or unload. */
  released(keys: readonly string[]): Promise<void>;
}

/** A shard became resident: read from its files (fileBytes > 0), or created empty (fileBytes 0). */
export interface LoadedEvent { readonly collection: string; readonly shard: number; readonly bytes: number; readonly loadMs: number; readonly fileBytes: number }
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

/** What a reservation is for: loads and growth are refused above the emergency threshold. */
export type ReservationKind = 'load' | 'growth' | 'transient';

export interface AdmissionRequest {
  readonly bytes: number;
  readonly kind: ReservationKind;
  readonly collection: { readonly name: string; readonly quotaBytes: number } | null;
  readonly label: string;
  /**
   * For a load that may wait for busy shards: the shards the calling operation itself holds
   * (never waited for) and how to mark them as held by a waiting call meanwhile.
   */
  readonly wait?: { readonly own: ReadonlySet<string>; readonly stall: (waiting: boolean) => void };
}

export class Governor {
  #config: Config;
  #clock: Clock;
  #emit: Emit;
  #evictor: Evictor | null = null;
  readonly ledger: Ledger;
  readonly stats = new Stats();
  #headroom = new Map<string, Reservation>();
  #level: Level = 'normal';
  #turn: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;
  #relieving = false;
  /** Admissions waiting for memory: woken whenever accounted bytes go down. */
  #freedWaiters: (() => void)[] = [];
  /** Transient reservations in flight, by id: released by release() like any other. */
  #transients = new Set<number>();
  #transientBytes = 0;
  /** Run at the end of each maintain(), e.g. returning the allocator's free memory (never waits). */
  #housekeeping: (() => void) | null = null;

  constructor(config: Config, clock: Clock, emit: Emit) {
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
    this.ledger = new Ledger(config.memoryLimitBytes);
  }

  /**
   * Connects the shard owner and starts the maintenance timer; `housekeeping` runs at the end
   * of every maintain(), after its evictions (synchronous: it takes no slot, turn or budget turn).
   */
  attach(evictor: Evictor, housekeeping?: () => void): void {
    this.#evictor = evictor;
    this.#housekeeping = housekeeping ?? null;
    this.#startTimer();
  }

  get config(): Config {
    return this.#config;
  }

  get level(): Level {
    return this.#level;
  }

  emit<K extends keyof GovernorEvents>(event: K, payload: GovernorEvents[K]): void {
    this.#emit(event, payload);
  }

  /**
   * Reserves `bytes` for an allocation about to happen, evicting idle shards as the policy
   * allows. A load with `wait` set may wait (up to admissionWaitMs) for shards other calls are
   * using. @throws {BudgetExceededError}
   */
  async admit(request: AdmissionRequest): Promise<Reservation> {
    // Query scratch and the like: short-lived and always allowed; if it fits, no need to queue.
    if (request.kind === 'transient' && this.ledger.fits(request.bytes)) return this.#transient(this.#reserveNow(request.bytes, request.label));
    const deadline = this.#clock.now() + this.#config.admissionWaitMs;
    for (;;) {
      // Taken before the attempt, so bytes freed between a refusal and the wait still wake it.
      const freed = request.wait === undefined && request.kind !== 'transient' ? null : this.#nextFree();
      try {
        const r = await this.#inTurn(async () => this.#admit(request));
        return request.kind === 'transient' ? this.#transient(r) : r;
      } catch (err) {
        if (!(err instanceof BudgetExceededError)) throw err;
        const plan =
          request.kind === 'transient' && request.wait === undefined
            ? planTransientWait(this.#transientBytes, err.wantedBytes, this.ledger.limitBytes, this.#clock.now(), deadline)
            : request.wait === undefined
              ? ({ kind: 'reject' } as const)
              : this.#planWait(request, err.wantedBytes, deadline);
        if (plan.kind === 'reject') throw this.#report(err);
        this.stats.admissionWaits++;
        request.wait?.stall(true);
        try {
          await this.#waitFor(plan.forKeys, freed as Promise<void>, plan.untilMs);
        } finally {
          request.wait?.stall(false);
        }
      }
    }
  }

  /** Warm start: reserves `bytes` only if they fit without evicting anything at the normal level. */
  tryReserve(bytes: number, label: string): Promise<Reservation | null> {
    return this.#inTurn(async () => (this.#level === 'normal' && this.ledger.fits(bytes) ? this.#reserveNow(bytes, label) : null));
  }

  release(r: Reservation): void {
    if (this.#transients.delete(r.id)) this.#transientBytes -= r.bytes;
    this.ledger.release(r);
    this.#changed(true);
  }

  /** Bytes reserved now for calls in flight (kind 'transient': buffers, scratch, log records). */
  get transientBytes(): number {
    return this.#transientBytes;
  }

  /**
   * Records a shard's exact bytes (0: gone) and the visited-list headroom it may still
   * allocate, releasing the reservation that covered the change.
   */
  settle(key: string, bytes: number, headroomBytes: number, r?: Reservation): void {
    const before = this.ledger.usedBytes;
    this.#dropHeadroom(key);
    this.ledger.settle(key, bytes, r);
    // The load or growth reserved this already (its estimate assumes `threads` searchers), so
    // it fits; if it ever does not, the ledger counts an overshoot.
    if (bytes > 0 && headroomBytes > 0) this.#headroom.set(key, this.ledger.reserve(headroomBytes, `visited lists ${key}`, true));
    this.#changed(this.ledger.usedBytes < before);
  }

  /** Bytes a shard holds, its headroom included. */
  heldBy(key: string): number {
    return this.ledger.residentOf(key) + (this.#headroom.get(key)?.bytes ?? 0);
  }

  /** Runs the TTL sweep and threshold relief now (the timer calls this every maintenanceIntervalMs). */
  maintain(): Promise<void> {
    return this.#inTurn(async () => {
      const now = this.#clock.now();
      for (const v of planExpiry(this.#residents(), this.#config.ttlMs, now)) await this.#evictVictim(v);
      await this.#relieve();
      this.#housekeeping?.();
    });
  }

  /** Applies a new configuration; shrinking the limit evicts first. @throws {BudgetExceededError} (the limit is unchanged). */
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
      this.#config = next;
      this.#startTimer();
      this.#changed(true);
    });
  }

  /** Bytes held per collection, for errors and stats. */
  breakdown(): ResidentShare[] {
    const shares = new Map<string, ResidentShare>();
    for (const s of this.#shards()) {
      const bytes = this.heldBy(s.key);
      if (bytes === 0) continue;
      const prior = shares.get(s.collection);
      shares.set(s.collection, { collection: s.collection, bytes: (prior?.bytes ?? 0) + bytes, pinned: s.pinned, priority: s.priority });
    }
    return [...shares.values()].sort((a, b) => b.bytes - a.bytes);
  }

  pinnedBytes(): number {
    let sum = 0;
    for (const s of this.#shards()) if (s.pinned) sum += this.heldBy(s.key);
    return sum;
  }

  /** Resolves once queued budget work (threshold relief, evictions, admissions) has finished. */
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

  // ---- internals --------------------------------------------------------------------------

  #inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(work, work);
    this.#turn = run.catch(() => undefined);
    return run;
  }

  #shards(): Iterable<ShardView> {
    return this.#evictor?.shards() ?? [];
  }

  #policy(limitBytes = this.ledger.limitBytes): PolicyConfig {
    return { limitBytes, targetFraction: this.#config.evictionTarget, ttlMs: this.#config.ttlMs };
  }

  #transient(r: Reservation): Reservation {
    this.#transients.add(r.id);
    this.#transientBytes += r.bytes;
    return r;
  }

  #reserveNow(bytes: number, label: string): Reservation {
    const r = this.ledger.reserve(bytes, label);
    this.#changed(false);
    return r;
  }

  /** Makes room for the request (evicting as the policy allows) and reserves it. Runs in turn. */
  async #admit(request: AdmissionRequest): Promise<Reservation> {
    const { bytes, kind, collection, label } = request;
    const name = collection?.name ?? null;
    if (this.#level === 'emergency' && kind !== 'transient') {
      throw this.#rejection(bytes, name, 'memory is above the emergency threshold: new loads and growth are refused');
    }
    if (collection !== null && collection.quotaBytes > 0) {
      const held = this.breakdown().find((s) => s.collection === collection.name)?.bytes ?? 0;
      if (held + bytes > collection.quotaBytes) {
        throw this.#rejection(bytes, name, `collection ${collection.name} would exceed its quota of ${collection.quotaBytes} bytes`);
      }
    }
    // At the hard level, or when this admission would reach it, the admission first evicts
    // until it stays at most at the hard threshold: one admission must not jump usage toward
    // emergency.
    const projected = (this.ledger.usedBytes + bytes) / this.ledger.limitBytes;
    const ceiling = admissionCeiling(this.#level, projected, this.#config.thresholds);
    if (this.#config.cachePolicy === 'lru') {
      const plan = planAdmission(this.#residents(), this.ledger.usedBytes, bytes, this.#policy(), this.#clock.now(), ceiling);
      if (plan.kind === 'evict') for (const v of plan.victims) await this.#evictVictim(v);
    }
    if (!this.ledger.fits(bytes)) throw this.#rejection(bytes, name, 'not enough memory can be evicted');
    return this.#reserveNow(bytes, label);
  }

  /** After a refused load: which busy shards to wait for, if evicting them could make room. */
  #planWait(request: AdmissionRequest, wantedBytes: number, deadline: number) {
    const own = request.wait?.own ?? new Set<string>();
    const holders: Holder[] = [];
    const leaving: string[] = [];
    for (const s of this.#shards()) {
      if (s.resident && s.users > 0) holders.push(s);
      if (s.leaving) leaving.push(s.key);
    }
    const residents = this.#residents().map((r) => (r.busy && !own.has(r.key) ? { ...r, busy: false } : r));
    const couldFit =
      this.#config.cachePolicy === 'lru' && planAdmission(residents, this.ledger.usedBytes, wantedBytes, this.#policy(), this.#clock.now()).kind !== 'reject';
    return planAdmissionWait(holders, own, couldFit, leaving, this.#clock.now(), deadline);
  }

  /** Waits until a shard in `keys` is released, accounted bytes go down, or `untilMs`. */
  async #waitFor(keys: readonly string[], freed: Promise<void>, untilMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (this.#evictor as Evictor).released(keys),
        freed,
        new Promise<void>((done) => (timer = setTimeout(done, Math.max(0, untilMs - this.#clock.now())))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #nextFree(): Promise<void> {
    return new Promise((done) => this.#freedWaiters.push(done));
  }

  /** Evicts a planned victim if it is still resident and idle (it may have been taken meanwhile). */
  async #evictVictim(v: Victim): Promise<void> {
    await (this.#evictor as Evictor).evict(v.key, v.reason);
  }

  /**
   * Threshold relief: soft evicts expired and low-priority shards, emergency everything but
   * critical. Shards in use are skipped; a later maintain() evicts them once idle.
   */
  async #relieve(): Promise<void> {
    if (this.#config.cachePolicy === 'none') return;
    if (this.#level === 'emergency') {
      for (const v of planEmergencyEviction(this.#residents())) await this.#evictVictim(v);
    } else if (this.#level !== 'normal') {
      for (const v of planSoftEviction(this.#residents(), this.ledger.usedBytes, this.#policy(), this.#clock.now())) await this.#evictVictim(v);
    }
  }

  /** After the ledger changed: wake waiting admissions if bytes went down, and re-check the level. */
  #changed(freed: boolean): void {
    if (freed) for (const done of this.#freedWaiters.splice(0)) done();
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

  #residents(): Resident[] {
    const out: Resident[] = [];
    for (const s of this.#shards()) {
      if (!s.resident) continue;
      out.push({ key: s.key, collection: s.collection, bytes: this.heldBy(s.key), priority: s.priority, lastUsedMs: s.lastUsedMs, pinned: s.pinned, busy: s.busy });
    }
    return out;
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

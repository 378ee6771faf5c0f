/**
 * A shard: one slot of a collection, holding a native segment and its IdTable when resident,
 * and the generation of its files on disk. Writes to a shard are serialised here (one at a
 * time, in call order) so its IdTable and segment always change together; reads run freely.
 * Whether it is resident is the budget governor's decision (budget/governor.ts).
 */
import { rmSync } from 'node:fs';

import { InternalError } from './errors.js';
import { IdTable } from './ids/id-table.js';
import type { SegmentHandle, SegmentSpec } from './native/binding.js';
import type { Pool } from './pool/pool.js';
import { writeIds } from './storage/id-file.js';
import { idsPath, segmentPath } from './storage/layout.js';

export interface ShardContext {
  readonly pool: Pool;
  readonly root: string;
  readonly collection: string;
  readonly spec: Omit<SegmentSpec, 'capacity'>;
  /** Resolves once the log holds every write up to `lsn` durably (see save()). */
  readonly durable: (lsn: number) => Promise<void>;
}

/** Slots a new segment starts with; it grows by doubling. */
export const INITIAL_CAPACITY = 1024;

export class Shard {
  readonly index: number;
  /** Generation of the files that hold the last flushed state; 0 when never flushed. */
  generation: number;
  /** Live ids when unloaded (from the manifest); the IdTable is the truth when resident. */
  #storedCount: number;
  #handle: SegmentHandle | null = null;
  #ids: IdTable | null = null;
  #writes: Promise<unknown> = Promise.resolve();
  /** Changed since the last flush. */
  dirty = false;
  /** Every logged write up to this LSN is in the shard's files. */
  flushedLsn: number;
  /** The highest LSN applied to the resident segment. */
  appliedLsn: number;
  /** The first LSN applied since the last flush (0 when clean): the log must keep it. */
  oldestUnflushedLsn = 0;

  constructor(index: number, generation: number, count: number, flushedLsn = 0) {
    this.index = index;
    this.generation = generation;
    this.#storedCount = count;
    this.flushedLsn = flushedLsn;
    this.appliedLsn = flushedLsn;
  }

  /** Records that the write logged as `lsn` is applied. */
  noteApplied(lsn: number): void {
    this.dirty = true;
    this.appliedLsn = Math.max(this.appliedLsn, lsn);
    if (this.oldestUnflushedLsn === 0) this.oldestUnflushedLsn = lsn;
  }

  get resident(): boolean {
    return this.#handle !== null;
  }

  get count(): number {
    return this.#ids?.size ?? this.#storedCount;
  }

  /** The resident segment's handle (the governor made it resident). */
  get handle(): SegmentHandle {
    if (this.#handle === null) throw new InternalError(`shard ${this.index} is not resident`);
    return this.#handle;
  }

  get ids(): IdTable {
    if (this.#ids === null) throw new InternalError(`shard ${this.index} is not resident`);
    return this.#ids;
  }

  /**
   * Loads the shard's files (with `capacity` slots, see budget/sizes.ts loadCapacity), or creates
   * an empty segment if it has none. The governor calls this.
   */
  async load(ctx: ShardContext, capacity?: number): Promise<void> {
    if (this.#handle !== null) return;
    if (this.generation === 0) {
      const handle = await ctx.pool.run('create', { spec: { ...ctx.spec, capacity: INITIAL_CAPACITY } });
      this.#ids = new IdTable();
      this.#handle = handle;
      return;
    }
    const { handle, ids } = await ctx.pool.run('load', {
      path: segmentPath(ctx.root, ctx.collection, this.index, this.generation),
      idsPath: idsPath(ctx.root, ctx.collection, this.index, this.generation),
      capacity,
    });
    this.#handle = handle;
    this.#ids = IdTable.fromParts(ids);
  }

  // ---- use counting: a shard in use is never evicted; an eviction waits for users to leave.

  /** Calls using the shard now (including ones waiting for it to load). */
  users = 0;
  lastUsedMs = 0;
  /** Set while a warm-up load runs outside the budget turn: a load of this shard awaits it. */
  loading: Promise<void> | null = null;
  /** Set while an eviction runs: users arriving meanwhile wait for it, then reload. */
  evicting: Promise<void> | null = null;
  #drained: (() => void)[] = [];

  enter(): void {
    this.users++;
  }

  leave(nowMs: number): void {
    this.users--;
    this.lastUsedMs = nowMs;
    if (this.users === 0) for (const done of this.#drained.splice(0)) done();
  }

  /** Resolves once no call uses the shard. */
  drain(): Promise<void> {
    if (this.users === 0) return Promise.resolve();
    return new Promise((done) => this.#drained.push(done));
  }

  /** Runs `write` after every earlier write to this shard has finished. */
  exclusive<T>(write: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(write, write);
    this.#writes = run.catch(() => undefined);
    return run;
  }

  /**
   * Writes a new generation of files if the shard changed, and returns the generation whose
   * files must be removed once the manifest names the new one (0: none). The caller holds the
   * shard's write turn (exclusive()).
   */
  async save(ctx: ShardContext): Promise<number> {
    if (!this.dirty || this.#handle === null || this.#ids === null) return 0;
    // Files must not get ahead of the log: a write they hold must be recoverable for the
    // batch's other shards too.
    await ctx.durable(this.appliedLsn);
    const next = this.generation + 1;
    writeIds(idsPath(ctx.root, ctx.collection, this.index, next), this.#ids);
    await ctx.pool.run('save', { handle: this.#handle, path: segmentPath(ctx.root, ctx.collection, this.index, next) });
    const previous = this.generation;
    this.generation = next;
    this.#storedCount = this.#ids.size;
    this.dirty = false;
    this.flushedLsn = this.appliedLsn;
    this.oldestUnflushedLsn = 0;
    return previous;
  }

  /** Frees the native segment (after saving, if the caller wants the data kept). */
  async release(ctx: ShardContext): Promise<void> {
    const handle = this.#handle;
    if (handle === null) return;
    this.#storedCount = this.#ids?.size ?? this.#storedCount;
    this.#handle = null;
    this.#ids = null;
    await ctx.pool.run('free', { handle });
  }
}

/** Removes the files of a generation that the manifest no longer names. */
export function removeGeneration(ctx: ShardContext, shard: number, generation: number): void {
  if (generation === 0) return;
  rmSync(segmentPath(ctx.root, ctx.collection, shard, generation), { force: true });
  rmSync(idsPath(ctx.root, ctx.collection, shard, generation), { force: true });
}

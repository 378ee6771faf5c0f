/** Counters, load-time percentiles and a bounded eviction history for db.stats(). State only. */
import type { EvictionReason } from './policy.js';

export interface EvictionRecord {
  readonly collection: string;
  readonly shard: number;
  readonly bytes: number;
  readonly reason: EvictionReason;
  readonly flushed: boolean;
  readonly atMs: number;
}

const HISTORY = 100;
const SAMPLES = 1000;

export class Stats {
  hits = 0;
  misses = 0;
  loads = 0;
  rejections = 0;
  levelChanges = 0;
  /** Loads that waited for other calls to release segments they had to evict. */
  admissionWaits = 0;
  bytesLoaded = 0;
  /** Resident bytes of shards that had unsaved writes when evicted (and were written out). */
  bytesSpilled = 0;
  readonly evictions: Record<EvictionReason, number> = {
    expired: 0, priority: 0, lru: 0, threshold: 0, manual: 0, reconfigure: 0,
  };
  #loadMs: number[] = [];
  #history: EvictionRecord[] = [];

  recordLoad(ms: number, fileBytes: number): void {
    this.loads++;
    this.bytesLoaded += fileBytes;
    this.#loadMs.push(ms);
    if (this.#loadMs.length > SAMPLES) this.#loadMs.shift();
  }

  recordEviction(reason: EvictionReason, collection: string, shard: number, bytes: number, flushed: boolean, atMs: number): void {
    this.evictions[reason]++;
    if (flushed) this.bytesSpilled += bytes;
    this.#history.push({ collection, shard, bytes, reason, flushed, atMs });
    if (this.#history.length > HISTORY) this.#history.shift();
  }

  /** The p-th percentile (0..1) of recent load times, in ms; 0 before any load. */
  loadMsPercentile(p: number): number {
    if (this.#loadMs.length === 0) return 0;
    const sorted = [...this.#loadMs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
  }

  history(): readonly EvictionRecord[] {
    return [...this.#history];
  }
}

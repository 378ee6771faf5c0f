/**
 * db.stats(): the figures a Shoal reports about memory, the cache and each collection, read
 * from the governor's ledger and counters and the shard store. Reads only; changes nothing.
 */
import type { Governor } from '../budget/governor.js';
import type { EvictionReason, Priority } from '../budget/policy.js';
import type { EvictionRecord } from '../budget/stats.js';
import type { Level } from '../budget/thresholds.js';
import type { ResidentShare } from '../errors.js';
import type { AllocatorState } from '../native/binding.js';
import type { WorkerHeap } from '../pool/heap-report.js';
import type { CollectionCore } from './collection-core.js';
import type { NativeAccounting } from './native-accounting.js';
import type { ShardStats, ShardStore } from './shard-store.js';

export type { ShardStats } from './shard-store.js';

export interface CollectionStats {
  readonly name: string;
  readonly count: number;
  readonly shards: number;
  readonly residentShards: number;
  readonly bytes: number;
  readonly priority: Priority;
  readonly pinned: boolean;
  readonly quotaBytes: number;
  readonly lastUsedMs: number;
  /** Why the collection cannot be used (its files are damaged and were moved aside), or null. */
  readonly failure: string | null;
  /** Each shard's lifecycle state, count and bytes. */
  readonly shardDetails: readonly ShardStats[];
}

export interface ShoalStats {
  readonly limitBytes: number;
  /** Accounted bytes: resident + reserved. Never above limitBytes. */
  readonly usedBytes: number;
  /** Exact bytes of resident segments and id tables. */
  readonly residentBytes: number;
  /** Bytes reserved for allocations in progress and visited-list headroom. */
  readonly reservedBytes: number;
  readonly peakBytes: number;
  readonly pinnedBytes: number;
  readonly level: Level;
  readonly hits: number;
  readonly misses: number;
  readonly hitRate: number;
  readonly loads: number;
  readonly rejections: number;
  /** Loads that waited for other calls to release segments they had to evict. */
  readonly admissionWaits: number;
  readonly evictions: Readonly<Record<EvictionReason, number>>;
  readonly loadMsP50: number;
  readonly loadMsP99: number;
  readonly bytesLoaded: number;
  readonly bytesSpilled: number;
  /** Times the ledger found more bytes than reserved (a bug if ever nonzero). */
  readonly overshoots: number;
  /** Exact native bytes of every segment in the process (the addon's own count). */
  readonly nativeBytes: number;
  /** Exact bytes of resident id tables; residentBytes = nativeBytes + idTableBytes. */
  readonly idTableBytes: number;
  /** Native bytes reported to V8 as external memory (follows residentBytes). */
  readonly reportedToV8Bytes: number;
  readonly collections: readonly CollectionStats[];
  readonly process: { readonly rssBytes: number; readonly heapUsedBytes: number; readonly externalBytes: number };
  /** The whole process's memory beside what the budget counts (docs/memory.md, field by field). */
  readonly memory: MemoryStats;
  readonly recentEvictions: readonly EvictionRecord[];
  /** The write-ahead log failed: every write is refused until the database is reopened. */
  readonly logFailed: boolean;
}

/**
 * What the process holds, counted or not. The budget counts `accountedBytes` (exact segment and
 * id-table bytes plus reservations); the rest of `rssBytes` is the runtime (Node, V8 heaps of
 * the main thread and the pool workers, code), buffers the budget bounds but does not count
 * exactly, and allocator free memory not yet returned.
 */
export interface MemoryStats {
  readonly limitBytes: number;
  /** Resident + reserved bytes in the ledger: never above limitBytes. */
  readonly accountedBytes: number;
  /** Of accountedBytes, reservations for calls in flight (write batches, query buffers, search scratch, log records). */
  readonly transientBytes: number;
  /** Exact native bytes of every segment (the addon's own count, at glibc chunk size). */
  readonly nativeBytes: number;
  /** Exact bytes of resident id tables. */
  readonly idTableBytes: number;
  /** Shared buffers write batches are staged in (one per pool thread at most; idle ones dropped by maintain()). */
  readonly stagingBytes: number;
  /** Resident set size of the whole process (main thread, pool workers, native threads). */
  readonly rssBytes: number;
  /** The main thread's V8 heap: bytes in use and reserved. */
  readonly mainHeapUsedBytes: number;
  readonly mainHeapTotalBytes: number;
  /** Memory of ArrayBuffers and Buffers alive on the main thread (V8's count). */
  readonly arrayBuffersBytes: number;
  /** Each pool worker's V8 heap as last reported (after a task, at most every 250 ms). */
  readonly workerHeaps: readonly WorkerHeap[];
  /** Sum of workerHeaps' totalBytes. */
  readonly workerHeapTotalBytes: number;
  /** The allocator's thresholds, free and untrimmed bytes; null where it is not glibc's. */
  readonly allocator: AllocatorState | null;
  /** rssBytes - nativeBytes - idTableBytes: what the budget does not count, floored at 0. */
  readonly unaccountedBytes: number;
}

export function snapshotStats(
  g: Governor,
  store: ShardStore,
  accounting: NativeAccounting,
  collections: readonly CollectionCore[],
  logFailed: boolean,
  workerHeaps: readonly WorkerHeap[] = [],
): ShoalStats {
    const s = g.stats;
    const lookups = s.hits + s.misses;
    const mem = process.memoryUsage();
    const nativeBytes = accounting.totalNativeBytes();
    const idTableBytes = store.idTableBytes();
    const memory: MemoryStats = {
      limitBytes: g.ledger.limitBytes,
      accountedBytes: g.ledger.usedBytes,
      transientBytes: g.transientBytes,
      nativeBytes,
      idTableBytes,
      stagingBytes: store.stagingBytes(),
      rssBytes: mem.rss,
      mainHeapUsedBytes: mem.heapUsed,
      mainHeapTotalBytes: mem.heapTotal,
      arrayBuffersBytes: mem.arrayBuffers,
      workerHeaps,
      workerHeapTotalBytes: workerHeaps.reduce((n, h) => n + h.totalBytes, 0),
      allocator: accounting.allocatorState(),
      unaccountedBytes: Math.max(0, mem.rss - nativeBytes - idTableBytes),
    };
    return {
      limitBytes: g.ledger.limitBytes,
      usedBytes: g.ledger.usedBytes,
      residentBytes: g.ledger.residentBytes,
      reservedBytes: g.ledger.reservedBytes,
      peakBytes: g.ledger.peakBytes,
      pinnedBytes: g.pinnedBytes(),
      level: g.level,
      hits: s.hits,
      misses: s.misses,
      hitRate: lookups === 0 ? 0 : s.hits / lookups,
      loads: s.loads,
      rejections: s.rejections,
      admissionWaits: s.admissionWaits,
      evictions: { ...s.evictions },
      loadMsP50: s.loadMsPercentile(0.5),
      loadMsP99: s.loadMsPercentile(0.99),
      bytesLoaded: s.bytesLoaded,
      bytesSpilled: s.bytesSpilled,
      overshoots: g.ledger.overshoot.count,
      nativeBytes,
      reportedToV8Bytes: accounting.reportedToV8Bytes,
      idTableBytes,
      collections: ((shares) => collections.map((c) => collectionStats(c, shares)))(new Map(g.breakdown().map((b) => [b.collection, b]))),
      process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, externalBytes: mem.external },
      memory,
      recentEvictions: s.history(),
      logFailed,
    };
}

export function collectionStats(c: CollectionCore, shares: ReadonlyMap<string, ResidentShare>): CollectionStats {
  return {
    name: c.name,
    count: c.count,
    shards: c.slots.length,
    residentShards: c.slots.filter((s) => s.resident).length,
    bytes: shares.get(c.name)?.bytes ?? 0,
    priority: c.priority,
    pinned: c.pinned,
    quotaBytes: c.quotaBytes,
    lastUsedMs: Math.max(0, ...c.slots.map((s) => s.lastUsedMs)),
    failure: c.failure?.message ?? null,
    shardDetails: c.shardStats(),
  };
}

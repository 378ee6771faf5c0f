/**
 * db.stats(): the figures a Shoal reports about memory, the cache and each collection, read
 * from the governor's ledger and counters and the shard store. Reads only; changes nothing.
 */
import type { Governor } from '../budget/governor.js';
import type { EvictionReason, Priority } from '../budget/policy.js';
import type { EvictionRecord } from '../budget/stats.js';
import type { Level } from '../budget/thresholds.js';
import type { ResidentShare } from '../errors.js';
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
  readonly recentEvictions: readonly EvictionRecord[];
  /** The write-ahead log failed: every write is refused until the database is reopened. */
  readonly logFailed: boolean;
}

export function snapshotStats(g: Governor, store: ShardStore, accounting: NativeAccounting, collections: readonly CollectionCore[], logFailed: boolean): ShoalStats {
    const s = g.stats;
    const lookups = s.hits + s.misses;
    const mem = process.memoryUsage();
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
      nativeBytes: accounting.totalNativeBytes(),
      reportedToV8Bytes: accounting.reportedToV8Bytes,
      idTableBytes: store.idTableBytes(),
      collections: ((shares) => collections.map((c) => collectionStats(c, shares)))(new Map(g.breakdown().map((b) => [b.collection, b]))),
      process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, externalBytes: mem.external },
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

/**
 * Prometheus metrics for a database, registered into a prom-client registry (the caller's, or
 * a new one). prom-client is an optional peer dependency: it is imported here, at the first
 * call, so that users who never ask for metrics never load it.
 *
 * Every gauge and counter is read from db.stats() when the registry is scraped (one snapshot
 * per scrape, shared by all metrics), so the figures agree with stats() and nothing is counted
 * twice. The load-time histogram is fed by the 'loaded' event: it holds the loads since
 * registration (stats() keeps only percentiles, which a histogram cannot be rebuilt from).
 */
import type { Counter, Gauge, Registry } from 'prom-client';

import type { ShoalStats } from './coordinator/stats.js';
import { InternalError, InvalidArgumentError } from './errors.js';
import { assessHealth, type HealthStatus } from './health.js';
import type { Level } from './budget/thresholds.js';
import type { Thresholds } from './config.js';

/** What shoal needs of a prom-client Registry (typed structurally: prom-client is optional). */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** The database as metrics see it (a Shoal). */
export interface MetricsSource {
  stats(): ShoalStats;
  readonly config: { readonly thresholds: Thresholds };
  on(event: 'loaded', listener: (e: { readonly loadMs: number; readonly fileBytes: number }) => void): unknown;
}

export const LOAD_SECONDS_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const LEVEL_NUMBER: Record<Level, number> = { normal: 0, soft: 1, hard: 2, emergency: 3 };
const HEALTH_NUMBER: Record<HealthStatus, number> = { ok: 0, degraded: 1, critical: 2 };

type Prom = typeof import('prom-client');

async function loadPromClient(): Promise<Prom> {
  try {
    return await import('prom-client');
  } catch (err) {
    throw new InternalError(`metrics need the optional peer dependency prom-client (npm install prom-client): ${(err as Error).message}`);
  }
}

/**
 * Registers shoal's metrics for `db` into `registry` (default: a new prom-client Registry) and
 * returns the registry. Register one database per registry: the metric names are fixed.
 */
export async function registerMetrics<R extends MetricsRegistry>(db: MetricsSource, registry?: R): Promise<R> {
  const prom = await loadPromClient();
  const reg = (registry ?? new prom.Registry()) as unknown as Registry;
  // Checked first, so that a second registration adds nothing rather than half the metrics.
  if (typeof reg.getSingleMetric === 'function' && reg.getSingleMetric('shoal_memory_used_bytes') !== undefined) {
    throw new InvalidArgumentError('registry: already holds shoal metrics (of this or another database); register one database per registry');
  }
  const registers = [reg];

  // One snapshot per scrape: the registry calls every collect() in the same turn of the event
  // loop, so the snapshot is dropped at the next one. After close the last snapshot stays.
  let snapshot: ShoalStats | null = null;
  let last: ShoalStats | null = null;
  const stats = (): ShoalStats | null => {
    if (snapshot !== null) return snapshot;
    try {
      snapshot = db.stats();
      last = snapshot;
      setImmediate(() => (snapshot = null)).unref();
    } catch {
      return last; // closed: keep reporting what it last was
    }
    return snapshot;
  };

  const gauge = (name: string, help: string, read: (s: ShoalStats) => number): void => {
    new prom.Gauge({
      name, help, registers,
      collect(this: Gauge) {
        const s = stats();
        if (s !== null) this.set(read(s));
      },
    });
  };
  const counter = (name: string, help: string, read: (s: ShoalStats) => number): void => {
    new prom.Counter({
      name, help, registers,
      collect(this: Counter) {
        const s = stats();
        if (s === null) return;
        this.reset();
        this.inc(read(s));
      },
    });
  };

  gauge('shoal_memory_used_bytes', 'Accounted bytes: resident plus reserved (db.stats().usedBytes)', (s) => s.usedBytes);
  gauge('shoal_memory_limit_bytes', 'The memory limit (memoryLimitBytes)', (s) => s.limitBytes);
  gauge('shoal_memory_peak_bytes', 'Highest accounted bytes since open', (s) => s.peakBytes);
  gauge('shoal_memory_resident_bytes', 'Exact bytes of resident segments and id tables', (s) => s.residentBytes);
  gauge('shoal_memory_reserved_bytes', 'Bytes reserved for allocations in progress and headroom', (s) => s.reservedBytes);
  gauge('shoal_memory_pinned_bytes', 'Resident bytes of pinned and critical collections', (s) => s.pinnedBytes);
  gauge('shoal_memory_level', 'Pressure level: 0 normal, 1 soft, 2 hard, 3 emergency', (s) => LEVEL_NUMBER[s.level]);
  gauge('shoal_health', 'db.health(): 0 ok, 1 degraded, 2 critical', (s) => HEALTH_NUMBER[assessHealth(s).status]);
  counter('shoal_cache_hits_total', 'Calls that found their shards resident', (s) => s.hits);
  counter('shoal_cache_misses_total', 'Calls that had to load a shard', (s) => s.misses);
  counter('shoal_loads_total', 'Shard loads', (s) => s.loads);
  counter('shoal_rejections_total', 'Admissions refused by the budget', (s) => s.rejections);
  counter('shoal_admission_waits_total', 'Loads that waited for busy shards to be released', (s) => s.admissionWaits);
  counter('shoal_loaded_bytes_total', 'File bytes read by shard loads', (s) => s.bytesLoaded);
  counter('shoal_spilled_bytes_total', 'Resident bytes of shards written out when evicted', (s) => s.bytesSpilled);

  new prom.Counter({
    name: 'shoal_evictions_total', help: 'Shard evictions by reason', labelNames: ['reason'], registers,
    collect(this: Counter<'reason'>) {
      const s = stats();
      if (s === null) return;
      this.reset();
      for (const [reason, n] of Object.entries(s.evictions)) this.inc({ reason }, n);
    },
  });
  new prom.Gauge({
    name: 'shoal_memory_threshold_bytes', help: 'Bytes at which each pressure level begins', labelNames: ['level'], registers,
    collect(this: Gauge<'level'>) {
      const s = stats();
      if (s === null) return;
      for (const [level, fraction] of Object.entries(db.config.thresholds)) this.set({ level }, Math.floor(fraction * s.limitBytes));
    },
  });
  const perCollection = (name: string, help: string, read: (c: ShoalStats['collections'][number]) => number): void => {
    new prom.Gauge({
      name, help, labelNames: ['collection'], registers,
      collect(this: Gauge<'collection'>) {
        const s = stats();
        if (s === null) return;
        this.reset(); // a deleted collection's series goes away
        for (const c of s.collections) this.set({ collection: c.name }, read(c));
      },
    });
  };
  perCollection('shoal_collection_resident_bytes', 'Resident bytes of each collection', (c) => c.bytes);
  perCollection('shoal_collection_resident_shards', 'Resident shards of each collection', (c) => c.residentShards);
  perCollection('shoal_collection_shards', 'Shards of each collection', (c) => c.shards);
  perCollection('shoal_collection_vectors', 'Live vectors in each collection', (c) => c.count);

  const loadSeconds = new prom.Histogram({
    name: 'shoal_load_seconds', help: 'Time to load a shard from disk (loads since the metrics were registered)',
    buckets: [...LOAD_SECONDS_BUCKETS], registers,
  });
  // Only loads from files, as stats().loads counts them; a new empty shard is not a load.
  db.on('loaded', (e) => {
    if (e.fileBytes > 0) loadSeconds.observe(e.loadMs / 1000);
  });
  return reg as unknown as R;
}

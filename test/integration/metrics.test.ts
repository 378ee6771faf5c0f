// db.metrics(): the Prometheus text parses, agrees with db.stats(), and the budget events are
// published on node:diagnostics_channel as well.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

import { CHANNELS, Shoal } from '../../src/index.js';
import { randomVectors } from '../support/data.js';
import { tempDirsPerTest } from '../support/db.js';
import { parsePrometheus, sampleValue } from '../support/prometheus.js';

const dir = tempDirsPerTest();
const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('metrics', () => {
  it('parse as Prometheus text and agree with db.stats(), in a registry shared with the application', async () => {
    const path = dir();
    const seen: Record<string, { path: string }[]> = { 'shoal:load': [], 'shoal:evict': [], 'shoal:reconfigure': [] };
    const listeners = Object.keys(seen).map((name) => [name, (m: unknown) => seen[name]?.push(m as { path: string })] as const);
    for (const [name, fn] of listeners) subscribe(name, fn);
    const db = await Shoal.open({ path, memoryLimitBytes: '64MB', maintenanceIntervalMs: 0, threads: 2 });
    try {
      const registry = new Registry();
      new Counter({ name: 'app_requests_total', help: 'the application\'s own metric', registers: [registry] }).inc(3);
      expect(await db.metrics(registry)).toBe(registry);
      const before = registry.getMetricsAsArray().length;
      await expect(db.metrics(registry)).rejects.toMatchObject({ code: 'SHOAL_INVALID_ARGUMENT', message: expect.stringContaining('one database per registry') });
      expect(registry.getMetricsAsArray()).toHaveLength(before);

      const a = await db.createCollection('a', { dim: 8, shards: 2 });
      const b = await db.createCollection('b', { dim: 8 });
      await a.add(ids('a', 300), randomVectors(300, 8, 1));
      await b.add(ids('b', 100), randomVectors(100, 8, 2));
      await a.query(randomVectors(5, 8, 3), { k: 3 });
      await a.unload(); // two manual evictions
      await a.query(randomVectors(2, 8, 4), { k: 3 }); // two loads
      await db.configure({ memoryLimitBytes: '48MB' });
      await db.idle();

      const families = parsePrometheus(await registry.metrics());
      const s = db.stats();
      const value = (name: string, labels: Record<string, string> = {}): number => sampleValue(families, name, labels);
      expect(value('app_requests_total')).toBe(3);
      expect({
        used: value('shoal_memory_used_bytes'), limit: value('shoal_memory_limit_bytes'), peak: value('shoal_memory_peak_bytes'),
        resident: value('shoal_memory_resident_bytes'), hits: value('shoal_cache_hits_total'), misses: value('shoal_cache_misses_total'),
        loads: value('shoal_loads_total'), manual: value('shoal_evictions_total', { reason: 'manual' }), lru: value('shoal_evictions_total', { reason: 'lru' }),
        loadCount: value('shoal_load_seconds_count'), level: value('shoal_memory_level'), health: value('shoal_health'),
        aBytes: value('shoal_collection_resident_bytes', { collection: 'a' }), bBytes: value('shoal_collection_resident_bytes', { collection: 'b' }),
        aVectors: value('shoal_collection_vectors', { collection: 'a' }), soft: value('shoal_memory_threshold_bytes', { level: 'soft' }),
      }).toEqual({
        used: s.usedBytes, limit: 48_000_000, peak: s.peakBytes, resident: s.residentBytes, hits: s.hits, misses: s.misses,
        loads: s.loads, manual: 2, lru: s.evictions.lru, loadCount: s.loads, level: 0, health: 0,
        aBytes: s.collections.find((c) => c.name === 'a')?.bytes, bBytes: s.collections.find((c) => c.name === 'b')?.bytes,
        aVectors: 300, soft: Math.floor(48_000_000 * db.config.thresholds.soft),
      });
      expect(s.loads).toBeGreaterThanOrEqual(2);
      expect(value('shoal_load_seconds_sum')).toBeGreaterThan(0);

      // The same events on the diagnostics channels, with the database's path.
      expect(seen['shoal:load']?.filter((m) => (m as unknown as { fileBytes: number }).fileBytes > 0)).toHaveLength(s.loads);
      expect(seen['shoal:evict']).toHaveLength(2);
      expect(seen['shoal:evict']?.[0]).toMatchObject({ path: db.path, collection: 'a', reason: 'manual' });
      expect(seen['shoal:reconfigure']).toEqual([{ path: db.path, config: db.config }]);
      await db.close();
      // A scrape after close reports the last figures rather than failing the whole registry.
      expect(sampleValue(parsePrometheus(await registry.metrics()), 'shoal_cache_hits_total')).toBe(s.hits);
    } finally {
      await db.close();
      for (const [name, fn] of listeners) unsubscribe(name, fn);
    }
  });

  it('names every channel it publishes on', () => {
    expect(CHANNELS).toEqual({ loaded: 'shoal:load', evicted: 'shoal:evict', rejected: 'shoal:reject', threshold: 'shoal:threshold', reconfigured: 'shoal:reconfigure' });
  });
});

describe('the Prometheus parser used above', () => {
  it.each([
    ['a sample without a TYPE', 'x 1\n'],
    ['an unquoted label', '# TYPE x gauge\nx{a=b} 1\n'],
    ['a bad value', '# TYPE x gauge\nx one\n'],
    ['a bad metric name', '# TYPE 1x gauge\n'],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ['a histogram whose count differs', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'],
    ['no final newline', '# TYPE x gauge\nx 1'],
  ])('rejects %s', (_what, text) => {
    expect(() => parsePrometheus(text)).toThrow();
  });

  it('reads labels with escapes', () => {
    expect(sampleValue(parsePrometheus('# TYPE x gauge\nx{a="q\\"t",b="1"} 2.5e3\n'), 'x', { a: 'q"t' })).toBe(2500);
  });
});

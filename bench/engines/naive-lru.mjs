/**
 * The naive multi-tenant baseline, built the way users do today: one hnswlib-node index per
 * tenant, kept in an lru-cache on the main thread with a size estimate per index (its file size);
 * over the limit, the least recently used index is dropped (its file is already on disk) and read
 * back with readIndexSync on the next miss. Dropped indices free their native memory only when
 * V8 collects the JS object, which the cache cannot see.
 */
import { statSync } from 'node:fs';
import { LRUCache } from 'lru-cache';
import hnsw from 'hnswlib-node';

const { HierarchicalNSW } = hnsw;
export const name = 'naive-lru';

export function create({ files, dim, maxSize }) {
  const sizes = files.map((f) => statSync(f).size);
  const stats = { hits: 0, misses: 0, loads: 0, evictions: 0, loadMs: 0 };
  const cache = new LRUCache({
    maxSize,
    sizeCalculation: (v) => v.size,
    dispose: (_v, _k, reason) => {
      if (reason === 'evict') stats.evictions++;
    },
  });
  return {
    cache,
    stats,
    totalBytes: sizes.reduce((a, b) => a + b, 0),
    /** The tenant's index, read from its file on a miss (synchronously, on the main thread). */
    get(t) {
      let v = cache.get(t);
      if (v) {
        stats.hits++;
        return v.index;
      }
      stats.misses++;
      const a = performance.now();
      const index = new HierarchicalNSW('l2', dim);
      index.readIndexSync(files[t]);
      stats.loadMs += performance.now() - a;
      stats.loads++;
      v = { index, size: sizes[t] };
      cache.set(t, v);
      return index;
    },
    accountedBytes: () => cache.calculatedSize,
  };
}

/**
 * hnswlib-node 3.0.0 behind the bench engine interface (see protocol.mjs). Its API takes
 * number[] only: build converts each point inside the timed loop (that is the cost users pay),
 * while queries are converted before timing so search QPS measures the index, not Array.from.
 */
import { createRequire } from 'node:module';
import hnsw from 'hnswlib-node';
import { GRAPH, K } from '../protocol.mjs';
import { secondsSync, settledRss } from '../stats.mjs';

const { HierarchicalNSW } = hnsw;
const SEED = 100;

export function facts() {
  return { version: createRequire(import.meta.url)('hnswlib-node/package.json').version };
}

export async function build(ds) {
  const { dim } = ds;
  const n = ds.base.length / dim;
  const nq = ds.queries.length / dim;
  const queries = Array.from({ length: nq }, (_, i) => Array.from(ds.queries.subarray(i * dim, (i + 1) * dim)));

  const rssBefore = settledRss().rss;
  const index = new HierarchicalNSW('l2', dim);
  index.initIndex(n, GRAPH.M, GRAPH.efConstruction, SEED);
  const rssInit = settledRss().rss;
  const buildSeconds = secondsSync(() => {
    for (let i = 0; i < n; i++) index.addPoint(Array.from(ds.base.subarray(i * dim, (i + 1) * dim)), i);
  });
  const after = settledRss();

  return {
    buildSeconds,
    // For benches that drive the index themselves (latency, event-loop delay): the index and the
    // queries already converted to number[].
    index,
    queries,
    memory: {
      // No byte counter exists in hnswlib-node: RSS is the only view, and it includes any
      // V8 heap growth the per-point number[] conversions left behind.
      rssDeltaBytes: after.rss - rssBefore,
      rssDeltaPerVector: (after.rss - rssBefore) / n,
      rssAtInitIndexBytes: rssInit - rssBefore,
    },
    single(ef, from, count, out) {
      index.setEf(ef);
      for (let i = from; i < from + count; i++) {
        const q = i % nq;
        const { neighbors } = index.searchKnn(queries[q], K);
        for (let j = 0; j < K; j++) out[q * K + j] = neighbors[j];
      }
    },
    async finish() {
      return {};
    },
  };
}

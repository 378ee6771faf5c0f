/** hnswlib-node 3.0.0 contender: addPoint / searchKnn on the main thread (its API takes number[]). */
import { createRequire } from 'node:module';
import hnsw from 'hnswlib-node';
import { GRAPH, K } from '../lib/protocol.mjs';
import { secondsSync, settledRss } from '../lib/stats.mjs';

const { HierarchicalNSW } = hnsw;
const SEED = 100;
export const name = 'hnswlib-node';
export { HierarchicalNSW };

export function build({ dim, base, M, efConstruction }) {
  const n = base.length / dim;
  const index = new HierarchicalNSW('l2', dim);
  index.initIndex(n, M, efConstruction, SEED);
  for (let i = 0; i < n; i++) index.addPoint(Array.from(base.subarray(i * dim, (i + 1) * dim)), i);
  return wrap(index, dim);
}

export function load(path, dim) {
  const index = new HierarchicalNSW('l2', dim);
  index.readIndexSync(path);
  return wrap(index, dim);
}

function wrap(index, dim) {
  let cur = -1;
  return {
    index,
    /** Queries as number[] (converted once, outside any timing). */
    prepare: (queries) => Array.from({ length: queries.length / dim }, (_, i) => Array.from(queries.subarray(i * dim, (i + 1) * dim))),
    setEf(ef) {
      if (ef !== cur) index.setEf((cur = ef));
    },
    searchOne(q, k) {
      return index.searchKnn(q, k).neighbors;
    },
    save: (path) => index.writeIndexSync(path),
  };
}

export function facts() {
  return { version: createRequire(import.meta.url)('hnswlib-node/package.json').version };
}

/**
 * Built behind the search protocol (lib/protocol.mjs), for the segment and collection scenarios.
 * Its API takes number[] only: the build converts each point inside the timed loop (the cost
 * users pay); queries are converted before timing, so search QPS measures the index.
 */
export async function protocolBuild(ds) {
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

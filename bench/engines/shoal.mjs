/**
 * shoal contender, through its public API only: `build` makes a Collection (database with a
 * worker pool of `threads`, 1 shard); `buildSegment` the raw native Segment behind the search
 * protocol (lib/protocol.mjs), for the segment scenario. Imports ../../dist/ (run `npm run build`),
 * or the dist/index.js SHOAL_BENCH_DIST names (the collection scenario's code snapshot).
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { addAll } from '../lib/ingest.mjs';
import { GRAPH, K } from '../lib/protocol.mjs';
import { seconds, settledRss } from '../lib/stats.mjs';

const { Shoal, Segment, native } = await import(process.env.SHOAL_BENCH_DIST ? pathToFileURL(process.env.SHOAL_BENCH_DIST).href : '../../dist/index.js');
export { Segment, Shoal, native };

export const name = (threads) => `shoal t${threads}`;
/** Builds one collection holding base (n x dim), ids "0".."n-1". */
export async function build({ dim, base, M, efConstruction, threads, path }) {
  const db = await Shoal.open({ threads, warmStart: false, ...(path ? { path, durability: 'unlogged' } : {}) });
  const col = await db.createCollection('c', { dim, space: 'l2', shards: 1, M, efConstruction });
  await addAll(col, base, dim, 2 * threads);
  await db.idle();
  return {
    db,
    col,
    /** All queries in one col.query call (shoal spreads them over its threads); nq x k labels. */
    async searchAll(queries, k, ef) {
      const res = await col.query(queries, { k, ef });
      const out = new Uint32Array(res.length * k);
      res.forEach((r, q) => r.ids.forEach((id, j) => (out[q * k + j] = Number(id))));
      return out;
    },
    searchOne: (q, k, ef) => col.query(q, { k, ef }),
    bytes() {
      const s = db.stats();
      return { accounted: s.usedBytes, native: s.nativeBytes + s.idTableBytes };
    },
    close: () => db.close(),
  };
}

export function facts() {
  // The tree may be dirty while the lead edits native/: the addon's build time pins what ran.
  const addon = addonPath();
  return { buildInfo: native.buildInfo(), addonPath: addon, addonBuilt: addon && existsSync(addon) ? statSync(addon).mtime.toISOString() : null };
}

/** The binary dist/ loads: SHOAL_NATIVE_BINARY, else what node-gyp-build picks (build/Release or prebuilds/). */
function addonPath() {
  if (process.env.SHOAL_NATIVE_BINARY) return process.env.SHOAL_NATIVE_BINARY;
  try {
    return createRequire(import.meta.url)('node-gyp-build').path(fileURLToPath(new URL('../..', import.meta.url)));
  } catch {
    return null;
  }
}

/**
 * Run first in the child, before the dataset is loaded. An empty segment's exact bytes depend on
 * allocator state: glibc mmaps the 2.6 MB label-lock table (page-rounded) until the first big
 * free raises its mmap threshold; after that the table comes from the heap, 4,072 B cheaper.
 * So measure a fresh process's first empty segment, a second one, and the estimate for both.
 */
export async function probe(dim) {
  const first = await emptyBytes(dim);
  const second = await emptyBytes(dim);
  const estimate = native.estimateBytes({ dim, M: GRAPH.M, capacity: 1, count: 0 });
  return { emptySegmentBytes: first, emptySegmentBytesSecond: second, emptySegmentEstimate: estimate.totalBytes };
}

/** The raw Segment, one thread, behind the search protocol (lib/protocol.mjs): bench/scenarios/segment.mjs. */
export async function buildSegment(ds) {
  const { dim } = ds;
  const n = ds.base.length / dim;
  const nq = ds.queries.length / dim;

  const labels = Uint32Array.from({ length: n }, (_, i) => i);
  // One query per call gets a ready-made view, as hnswlib-node gets ready-made number[]s.
  const queries = Array.from({ length: nq }, (_, i) => ds.queries.subarray(i * dim, (i + 1) * dim));
  const rssBefore = settledRss().rss;
  const seg = await Segment.create({ dim, space: 'l2', ...GRAPH, capacity: n });
  const buildSeconds = await seconds(() => seg.add(labels, ds.base));
  const rssAfter = settledRss().rss;
  const info = seg.info();
  const estimate = native.estimateBytes({ dim, M: GRAPH.M, capacity: n, count: n });

  return {
    buildSeconds,
    memory: {
      bytes: info.bytes,
      bytesPerVector: info.bytes / n,
      estimate,
      fixedBytesEstimate: estimate.fixedBytes,
      rssDeltaBytes: rssAfter - rssBefore,
    },
    single(ef, from, count, out) {
      const opts = { k: K, ef };
      for (let i = from; i < from + count; i++) {
        const q = i % nq;
        out.set(seg.searchSync(queries[q], opts).labels, q * K);
      }
    },
    batch(ef) {
      return seg.searchSync(ds.queries, { k: K, ef }).labels;
    },
    async finish() {
      const after = seg.info();
      await seg.free();
      // A leak check for free(): every native byte should be back.
      return { bytesAfterSearch: after.bytes, peakBytes: after.peakBytes, nativeBytesAfterFree: native.totalBytes() };
    },
  };
}

/** Exact bytes of a segment holding nothing: the per-segment overhead a small shard pays. */
async function emptyBytes(dim) {
  const seg = await Segment.create({ dim, space: 'l2', ...GRAPH, capacity: 1 });
  const bytes = seg.info().bytes;
  await seg.free();
  return bytes;
}

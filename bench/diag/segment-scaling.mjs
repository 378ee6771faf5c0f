/**
 * Diagnostic: does concurrent search on one native segment scale to 2 threads, without the
 * pool? Segment.search runs on libuv's thread pool; compare one call of all queries with two
 * concurrent calls of half each (and two full calls on two segments).
 *   node bench/diag/segment-scaling.mjs <dataset> [ef]
 */
import { loadDataset } from '../lib/datasets.mjs';
import { Segment } from '../../dist/index.js';

const [dsName = 'gauss20k', efArg = '64'] = process.argv.slice(2);
const ds = loadDataset(dsName);
const { dim } = ds;
const n = ds.base.length / dim;
const nq = ds.queries.length / dim;
const seg = await Segment.create({ dim, space: 'l2', M: 16, efConstruction: 200, capacity: n });
await seg.add(Uint32Array.from({ length: n }, (_, i) => i), ds.base);
const ef = Number(efArg);
const Q = new Float32Array(nq * dim * 5);
for (let r = 0; r < 5; r++) Q.set(ds.queries, r * nq * dim); // ≥ 1000 queries for gauss20k
const total = Q.length / dim;
const half = Math.floor(total / 2) * dim;
const ms = async (fn) => { const t0 = performance.now(); await fn(); return performance.now() - t0; };
seg.searchSync(Q, { k: 10, ef });
for (let rep = 0; rep < 4; rep++) {
  const sync1 = await ms(() => seg.searchSync(Q, { k: 10, ef }));
  const one = await ms(() => seg.search(Q, { k: 10, ef }));
  const two = await ms(() => Promise.all([seg.search(Q.subarray(0, half), { k: 10, ef }), seg.search(Q.subarray(half), { k: 10, ef })]));
  console.log(`${total} queries ef ${ef}: searchSync ${sync1.toFixed(1)} ms, 1 async call ${one.toFixed(1)} ms, 2 concurrent halves ${two.toFixed(1)} ms → speedup ${(one / two).toFixed(2)}×; concurrentSearchesPeak ${seg.info().concurrentSearchesPeak}`);
}
await seg.free();

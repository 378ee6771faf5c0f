/**
 * Diagnostic: which pool thread runs each search task of a batched query, and when (clock of
 * the worker), against when the main thread sent it and saw it finish. Uses a second piscina
 * pool with shoal's options and shoal's search task (wrapped by probe-worker.mjs) on the
 * segments of a real collection.
 *   node bench/diag/dispatch.mjs <dataset> <shards> [ef] [query-set repeats]
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { loadDataset } from '../lib/datasets.mjs';
import { Shoal } from '../../dist/index.js';
import { planQueryRanges } from '../../dist/pool/merge.js';

const [dsName = 'gauss20k', s = '1', efArg = '64', repArg = '5'] = process.argv.slice(2);
const ds = loadDataset(dsName);
const { dim } = ds;
const n = ds.base.length / dim;
const reps = Number(repArg);
const Q = new Float32Array(ds.queries.length * reps);
for (let r = 0; r < reps; r++) Q.set(ds.queries, r * ds.queries.length);
const nq = Q.length / dim;
const db = await Shoal.open({ threads: 2 });
const col = await db.createCollection('c', { dim, shards: Number(s) });
const ids = Array.from({ length: n }, (_, i) => String(i));
let next = 0;
await Promise.all(Array.from({ length: 4 }, async () => {
  while (next < n) { const f = next; next = Math.min(n, f + 1000); await col.add(ids.slice(f, next), ds.base.subarray(f * dim, next * dim)); }
}));

const pool = new Piscina({
  filename: fileURLToPath(new URL('./probe-worker.mjs', import.meta.url)),
  minThreads: 2, maxThreads: 2, idleTimeout: Number.POSITIVE_INFINITY,
});
await new Promise((r) => setTimeout(r, 300));
const clock = () => performance.timeOrigin + performance.now();
const k = 10;
const ef = Number(efArg);
const shared = new Float32Array(new SharedArrayBuffer(Q.byteLength));
shared.set(Q);
for (let rep = 0; rep < 8; rep++) {
  const ranges = planQueryRanges(nq, col.shards.length, 2);
  const T0 = clock();
  const tasks = [];
  for (const sh of col.shards) {
    const outLabels = new SharedArrayBuffer(nq * k * 4);
    const outDistances = new SharedArrayBuffer(nq * k * 4);
    for (const [from, count] of ranges) {
      const sent = clock();
      tasks.push(pool.run({ handle: sh.handle, dim, queries: shared.buffer, from, count, k, ef, allow: null, outLabels, outDistances }, { name: 'search' })
        .then((r) => ({ ...r, sent, seen: clock(), count })));
    }
  }
  const rs = await Promise.all(tasks);
  const rel = (t) => (t - T0).toFixed(1);
  console.log(rs.map((r) => `[thread ${r.threadId} ${r.count}q: sent ${rel(r.sent)} start ${rel(r.t0)} end ${rel(r.t1)} seen ${rel(r.seen)}]`).join(' '));
}
await pool.destroy();
await db.close();

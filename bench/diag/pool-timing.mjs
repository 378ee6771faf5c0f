/**
 * Diagnostic (not part of the benchmark): where a batched col.query's time goes. Wraps the
 * collection's pool.run to time each task from the main thread, and compares the whole call
 * with the tasks' span (the rest is main-thread setup + merge).
 *   node bench/diag/pool-timing.mjs <dataset> <threads> <shards> [ef] [query-set repeats]
 */
import { loadDataset } from '../lib/datasets.mjs';
import { Shoal, native } from '../../dist/index.js';

const [dsName = 'gauss20k', t = '2', s = '1', efArg = '64', repArg = '1'] = process.argv.slice(2);
const ds = loadDataset(dsName);
const { dim } = ds;
const n = ds.base.length / dim;
const reps = Number(repArg);
const Q = new Float32Array(ds.queries.length * reps);
for (let r = 0; r < reps; r++) Q.set(ds.queries, r * ds.queries.length);
const nq = Q.length / dim;
const db = await Shoal.open({ threads: Number(t) });
const col = await db.createCollection('c', { dim, shards: Number(s) });
const ids = Array.from({ length: n }, (_, i) => String(i));
const lanes = 2 * Number(t);
let next = 0;
await Promise.all(Array.from({ length: lanes }, async () => {
  while (next < n) { const f = next; next = Math.min(n, f + 1000); await col.add(ids.slice(f, next), ds.base.subarray(f * dim, next * dim)); }
}));

const pool = col.context.pool;
const orig = pool.run.bind(pool);
let log = [];
pool.run = async (name, task) => {
  const t0 = performance.now();
  try { return await orig(name, task); } finally { log.push({ name, t0, t1: performance.now(), count: task.count }); }
};
const ef = Number(efArg);
for (let rep = 0; rep < 6; rep++) {
  log = [];
  const t0 = performance.now();
  await col.query(Q, { k: 10, ef });
  const t1 = performance.now();
  const first = Math.min(...log.map((x) => x.t0));
  const last = Math.max(...log.map((x) => x.t1));
  console.log(`call ${(t1 - t0).toFixed(1)} ms: before first task ${(first - t0).toFixed(2)} ms, tasks span ${(last - first).toFixed(1)} ms [${log.map((x) => `${x.count}q ${(x.t0 - t0).toFixed(1)}→${(x.t1 - t0).toFixed(1)}`).join(', ')}], after ${(t1 - last).toFixed(2)} ms; QPS ${(nq / ((t1 - t0) / 1000)).toFixed(0)}`);
}
console.log('segment info', col.shards.map((sh) => native.segmentInfo(sh.handle).concurrentSearchesPeak));
await db.close();

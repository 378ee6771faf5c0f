/**
 * Diagnostic: where a single query's time goes in the pool, and where its tail comes from.
 * Sends one search task at a time (shoal's own search task, wrapped by probe-worker.mjs to
 * report its thread and its start/end on the shared clock) to a piscina pool configured as
 * shoal's, on a real collection's segment, and splits each round trip into: dispatch (sent ->
 * worker starts), search (in the worker), return (worker ends -> main sees the reply).
 * Also records main-thread GCs and marks the queries they overlapped.
 *   node bench/diag/single-tail.mjs <dataset> <threads> [ef] [queries]
 */
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { loadDataset } from '../lib/datasets.mjs';
import { percentile } from '../lib/stats.mjs';
import { Shoal } from '../../dist/index.js';
import { nativeSync } from '../../dist/native/binding.js';

const [dsName = 'gauss20k', t = '2', efArg = '64', countArg = '3000'] = process.argv.slice(2);
const ds = loadDataset(dsName);
const { dim } = ds;
const n = ds.base.length / dim;
const nq = ds.queries.length / dim;
const db = await Shoal.open({ threads: 1 });
const col = await db.createCollection('c', { dim, shards: 1 });
const ids = Array.from({ length: n }, (_, i) => String(i));
for (let f = 0; f < n; f += 1000) await col.add(ids.slice(f, f + 1000), ds.base.subarray(f * dim, Math.min(n, f + 1000) * dim));
const handle = col.shards[0].handle;

const pool = new Piscina({ filename: fileURLToPath(new URL('./probe-worker.mjs', import.meta.url)), minThreads: Number(t), maxThreads: Number(t), idleTimeout: Number.POSITIVE_INFINITY });
await new Promise((r) => setTimeout(r, 300));
const clock = () => performance.timeOrigin + performance.now();
const gcs = [];
new PerformanceObserver((l) => gcs.push(...l.getEntries().map((e) => [performance.timeOrigin + e.startTime, performance.timeOrigin + e.startTime + e.duration]))).observe({ entryTypes: ['gc'] });
const k = 10;
const ef = Number(efArg);
const count = Number(countArg);
const rows = [];
const q = new Float32Array(new SharedArrayBuffer(ds.queries.byteLength));
q.set(ds.queries);
// Direct searches on the main thread for the same queries: the search time without any pool.
const direct = [];
for (let i = 0; i < Math.min(count, 2000); i++) {
  const labels = new Uint32Array(k);
  const distances = new Float32Array(k);
  const t0 = clock();
  nativeSync.searchBatchInto(handle, q.subarray((i % nq) * dim, (i % nq + 1) * dim), k, ef, null, null, labels, distances);
  direct.push((clock() - t0) * 1000);
}
for (let i = 0; i < count + 200; i++) {
  const sent = clock();
  const r = await pool.run({ handle, dim, queries: q.buffer, from: i % nq, count: 1, k, ef, allow: null, outLabels: new SharedArrayBuffer(nq * k * 4), outDistances: new SharedArrayBuffer(nq * k * 4) }, { name: 'search' });
  const seen = clock();
  if (i >= 200) rows.push({ total: (seen - sent) * 1000, dispatch: (r.t0 - sent) * 1000, search: (r.t1 - r.t0) * 1000, ret: (seen - r.t1) * 1000, thread: r.threadId, sent, seen });
}
await new Promise((r) => setTimeout(r, 50));
const overlapsGc = (row) => gcs.some(([a, b]) => a < row.seen && b > row.sent);
const stat = (key, list = rows) => {
  const v = list.map((r) => r[key]);
  return `p50 ${percentile(v, 50).toFixed(0)} p90 ${percentile(v, 90).toFixed(0)} p99 ${percentile(v, 99).toFixed(0)} max ${percentile(v, 100).toFixed(0)}`;
};
console.log(`${dsName}, ef ${ef}, pool of ${t}, ${rows.length} sequential single-query tasks (µs):`);
console.log(`  direct search on main thread: p50 ${percentile(direct, 50).toFixed(0)} p99 ${percentile(direct, 99).toFixed(0)} max ${percentile(direct, 100).toFixed(0)}`);
for (const key of ['total', 'dispatch', 'search', 'ret']) console.log(`  ${key.padEnd(8)} ${stat(key)}`);
const slow = rows.filter((r) => r.total >= percentile(rows.map((x) => x.total), 99));
console.log(`  slowest 1% (${slow.length}): mean dispatch ${(slow.reduce((a, r) => a + r.dispatch, 0) / slow.length).toFixed(0)}, search ${(slow.reduce((a, r) => a + r.search, 0) / slow.length).toFixed(0)}, return ${(slow.reduce((a, r) => a + r.ret, 0) / slow.length).toFixed(0)}; overlapping a main-thread GC: ${slow.filter(overlapsGc).length}; main GCs in run: ${gcs.length}`);
const threads = [...new Set(rows.map((r) => r.thread))];
console.log(`  threads used: ${threads.map((th) => `${th}: ${rows.filter((r) => r.thread === th).length}`).join(', ')}`);
await pool.destroy();
await db.close();

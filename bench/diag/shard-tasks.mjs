/**
 * Diagnostic: single queries on a multi-shard collection, N in flight — one pool task per shard
 * (what col.query does) against one task that searches every shard in turn, both through a
 * piscina pool with shoal's settings, plus the same with concurrentTasksPerWorker 4.
 *   node bench/diag/shard-tasks.mjs <dataset> <shards> [ef] [inFlight] [seconds]
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { loadDataset } from '../lib/datasets.mjs';
import { cpuMeter } from '../lib/cpu.mjs';
import { Shoal } from '../../dist/index.js';

const [dsName = 'gauss20k', s = '2', efArg = '64', inFlightArg = '8', secondsArg = '3'] = process.argv.slice(2);
const ds = loadDataset(dsName);
const { dim } = ds;
const n = ds.base.length / dim;
const nq = ds.queries.length / dim;
const db = await Shoal.open({ threads: 2 });
const col = await db.createCollection('c', { dim, shards: Number(s) });
const ids = Array.from({ length: n }, (_, i) => String(i));
let next = 0;
await Promise.all(Array.from({ length: 4 }, async () => {
  while (next < n) { const f = next; next = Math.min(n, f + 1000); await col.add(ids.slice(f, next), ds.base.subarray(f * dim, next * dim)); }
}));
const handles = col.shards.map((sh) => sh.handle);
const k = 10;
const ef = Number(efArg);
const q = new Float32Array(new SharedArrayBuffer(ds.queries.byteLength));
q.set(ds.queries);
const out = () => new SharedArrayBuffer(nq * k * 4);

async function run(label, opts, oneTask) {
  const pool = new Piscina({ filename: fileURLToPath(new URL('./multi-shard-worker.mjs', import.meta.url)), minThreads: 2, maxThreads: 2, idleTimeout: Number.POSITIVE_INFINITY, ...opts });
  await new Promise((r) => setTimeout(r, 300));
  const one = (i) => oneTask
    ? pool.run({ handles, dim, queries: q.buffer, from: i % nq, count: 1, k, ef, allow: null, outLabels: handles.map(out), outDistances: handles.map(out) }, { name: 'searchAll' })
    : Promise.all(handles.map((handle) => pool.run({ handle, dim, queries: q.buffer, from: i % nq, count: 1, k, ef, allow: null, outLabels: out(), outDistances: out() }, { name: 'search' })));
  for (let i = 0; i < 300; i++) await one(i);
  const meter = cpuMeter();
  const e0 = performance.eventLoopUtilization();
  const end = performance.now() + Number(secondsArg) * 1000;
  let done = 0;
  let issued = 0;
  await Promise.all(Array.from({ length: Number(inFlightArg) }, async () => {
    while (performance.now() < end) { await one(issued++); done++; }
  }));
  const e = performance.eventLoopUtilization(e0);
  const c = meter();
  console.log(`${label.padEnd(58)} ${Math.round(done / Number(secondsArg)).toString().padStart(6)} QPS, main ${((e.active * 1000) / done).toFixed(0)} µs/query; other processes ${c.otherCores.toFixed(2)} cores`);
  await pool.destroy();
}
console.log(`${dsName}, ${s} shards, ef ${ef}, 2 pool threads, ${inFlightArg} single queries in flight:`);
await run('one task per shard (as col.query), concurrentTasksPerWorker 1', {}, false);
await run('one task for all shards, concurrentTasksPerWorker 1', {}, true);
await run('one task per shard, concurrentTasksPerWorker 4', { concurrentTasksPerWorker: 4 }, false);
await run('one task for all shards, concurrentTasksPerWorker 4', { concurrentTasksPerWorker: 4 }, true);
await db.close();

/**
 * Diagnostic: throughput and main-thread cost of single-query tasks kept N in flight, through a
 * piscina pool running shoal's own worker (dist/pool/worker.js) on a real collection's segment,
 * for several pool settings — what the collection's single-query path could get from them.
 *   node bench/diag/inflight.mjs <dataset> <threads> [ef] [inFlight] [seconds]
 * Variants: piscina as shoal configures it (concurrentTasksPerWorker 1); concurrentTasksPerWorker
 * 4 (the next task already waits in the worker's port when it finishes one); and coalescing
 * (the in-flight queries of one turn sent as one batched task per worker).
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { loadDataset } from '../lib/datasets.mjs';
import { cpuMeter } from '../lib/cpu.mjs';
import { Shoal } from '../../dist/index.js';

const [dsName = 'gauss20k', t = '2', efArg = '64', inFlightArg = '8', secondsArg = '3'] = process.argv.slice(2);
const ds = loadDataset(dsName);
const { dim } = ds;
const n = ds.base.length / dim;
const nq = ds.queries.length / dim;
const db = await Shoal.open({ threads: 2 });
const col = await db.createCollection('c', { dim, shards: 1 });
const ids = Array.from({ length: n }, (_, i) => String(i));
let next = 0;
await Promise.all(Array.from({ length: 4 }, async () => {
  while (next < n) { const f = next; next = Math.min(n, f + 1000); await col.add(ids.slice(f, next), ds.base.subarray(f * dim, next * dim)); }
}));
const handle = col.shards[0].handle;
const workerFile = fileURLToPath(new URL('../../dist/pool/worker.js', import.meta.url));
const k = 10;
const ef = Number(efArg);
const inFlight = Number(inFlightArg);
const seconds = Number(secondsArg);
const q = new Float32Array(new SharedArrayBuffer(ds.queries.byteLength));
q.set(ds.queries);

async function run(label, opts, coalesce = false) {
  const pool = new Piscina({ filename: workerFile, minThreads: Number(t), maxThreads: Number(t), idleTimeout: Number.POSITIVE_INFINITY, ...opts });
  await new Promise((r) => setTimeout(r, 300));
  const task = (from, count) => pool.run({ handle, dim, queries: q.buffer, from, count, k, ef, allow: null, outLabels: new SharedArrayBuffer(nq * k * 4), outDistances: new SharedArrayBuffer(nq * k * 4) }, { name: 'search' });
  // Coalescing: queries issued in the same turn wait for a microtask, then go out as one task per thread.
  let pending = [];
  const submit = coalesce
    ? (i) => new Promise((resolve) => {
        if (pending.length === 0) queueMicrotask(() => {
          const batch = pending;
          pending = [];
          const per = Math.ceil(batch.length / Number(t));
          for (let s = 0; s < batch.length; s += per) {
            const part = batch.slice(s, s + per);
            // the bench queries are consecutive rows, so a part is one range
            task(part[0].i % nq, part.length).then(() => part.forEach((p) => p.resolve()));
          }
        });
        pending.push({ i: i % (nq - inFlight), resolve });
      })
    : (i) => task(i % nq, 1);
  for (let i = 0; i < 500; i++) await submit(i);
  const meter = cpuMeter();
  const e0 = performance.eventLoopUtilization();
  const end = performance.now() + seconds * 1000;
  let done = 0;
  let issued = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < end) { await submit(issued++); done++; }
  }));
  const e = performance.eventLoopUtilization(e0);
  const c = meter();
  console.log(`${label.padEnd(44)} ${Math.round(done / seconds).toString().padStart(6)} QPS, main ELU ${e.utilization.toFixed(2)} = ${((e.active * 1000) / done).toFixed(0)} µs/query; other processes ${c.otherCores.toFixed(2)} cores`);
  await pool.destroy();
}
console.log(`${dsName}, ef ${ef}, ${t} pool threads, ${inFlight} single queries in flight, ${seconds} s each:`);
await run('piscina as shoal (concurrentTasksPerWorker 1)', {});
await run('concurrentTasksPerWorker 4', { concurrentTasksPerWorker: 4 });
await run('coalesced per turn, 1 task per thread', {}, true);
await db.close();

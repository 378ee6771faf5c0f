/**
 * Diagnostic: a main-thread CPU profile of shoal's query path. Builds a collection, warms up,
 * then profiles (node:inspector, 100 µs sampling, main thread only: pool workers are not
 * profiled) one workload for a few seconds and writes <out>.cpuprofile; summarise it with
 * bench/diag/summarize-cpuprofile.mjs.
 *   node bench/diag/profile-query.mjs <dataset> <threads> <shards> <singles|batch> [seconds] [out]
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datasetCollection } from '../lib/ingest.mjs';
import { Shoal } from '../../dist/index.js';

const [dsName = 'gauss20k', t = '2', s = '2', mode = 'singles', secondsArg = '4', out = join(tmpdir(), `shoal-${mode}-t${t}-s${s}`)] = process.argv.slice(2);
const { ds, dim, nq, db, col } = await datasetCollection(Shoal, dsName, Number(t), Number(s));
const rows = Array.from({ length: nq }, (_, i) => ds.queries.subarray(i * dim, (i + 1) * dim));
// Warm up the JIT on the path we profile.
for (let i = 0; i < 500; i++) await col.query(rows[i % nq], { k: 10, ef: 64 });
await col.query(ds.queries, { k: 10, ef: 64 });

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
const elu0 = performance.eventLoopUtilization();
const start = performance.now();
const end = start + Number(secondsArg) * 1000;
let done = 0;
if (mode === 'singles') {
  let q = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (performance.now() < end) { await col.query(rows[q++ % nq], { k: 10, ef: 64 }); done++; }
  }));
} else {
  while (performance.now() < end) { await col.query(ds.queries, { k: 10, ef: 64 }); done += nq; }
}
const stop = performance.now();
const elu = performance.eventLoopUtilization(elu0);
const { profile } = await session.post('Profiler.stop');
writeFileSync(`${out}.cpuprofile`, JSON.stringify(profile));
console.log(JSON.stringify({ mode, ms: stop - start, queries: done, qps: done / ((stop - start) / 1000), mainThreadBusyMs: elu.active, mainThreadBusyUsPerQuery: (elu.active * 1000) / done, elu: elu.utilization, profile: `${out}.cpuprofile` }));
await db.close();

/**
 * Diagnostic: time of each of the first batched col.query calls after ingest (JIT warm-up of
 * the merge path), with main-thread busy time per call.
 *   node bench/diag/warmup.mjs <dataset> <threads> <shards> [ef] [calls]
 */
import { datasetCollection } from '../lib/ingest.mjs';
import { gcWatch } from '../lib/gc.mjs';
import { Shoal } from '../../dist/index.js';

const [dsName = 'gauss20k', t = '2', s = '2', efArg = '16', callsArg = '12'] = process.argv.slice(2);
const { ds, nq, db, col } = await datasetCollection(Shoal, dsName, Number(t), Number(s));
const line = [];
for (let c = 0; c < Number(callsArg); c++) {
  const e0 = performance.eventLoopUtilization();
  const gc = gcWatch();
  const t0 = performance.now();
  await col.query(ds.queries, { k: 10, ef: Number(efArg) });
  const ms = performance.now() - t0;
  const g = gc();
  line.push(`${ms.toFixed(1)}ms(main ${performance.eventLoopUtilization(e0).active.toFixed(1)}, gc ${g.totalMs.toFixed(1)})`);
}
console.log(`${nq} queries, ef ${efArg}, t${t} s${s}: ${line.join(' ')}`);
await db.close();

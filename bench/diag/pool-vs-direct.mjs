/**
 * Diagnostic: the same batched search on the same segment, (a) called directly on the main
 * thread (nativeSync.searchBatchInto, what a pool worker calls), (b) through col.query (pool +
 * merge), alternating, so the difference is the collection/pool path's cost. Also a single-task
 * pool round trip without the collection (shoal's Pool.run('search') on the same handle).
 *   node bench/diag/pool-vs-direct.mjs <dataset> <threads> <shards> [ef...]
 */
import { loadDataset } from '../lib/datasets.mjs';
import { cpuMeter } from '../lib/cpu.mjs';
import { Shoal } from '../../dist/index.js';
import { nativeSync } from '../../dist/native/binding.js';

const [dsName = 'gauss20k', t = '1', s = '1', ...efArgs] = process.argv.slice(2);
const efs = efArgs.length ? efArgs.map(Number) : [16, 64];
const ds = loadDataset(dsName);
const { dim } = ds;
const n = ds.base.length / dim;
const nq = ds.queries.length / dim;
const db = await Shoal.open({ threads: Number(t) });
const col = await db.createCollection('c', { dim, shards: Number(s) });
const ids = Array.from({ length: n }, (_, i) => String(i));
let next = 0;
await Promise.all(Array.from({ length: 2 * Number(t) }, async () => {
  while (next < n) { const f = next; next = Math.min(n, f + 1000); await col.add(ids.slice(f, next), ds.base.subarray(f * dim, next * dim)); }
}));
const k = 10;
const shared = new Float32Array(new SharedArrayBuffer(ds.queries.byteLength));
shared.set(ds.queries);
const ms = async (fn) => { const t0 = performance.now(); await fn(); return performance.now() - t0; };
for (const ef of efs) {
  const direct = async () => {
    for (const sh of col.shards) {
      const labels = new Uint32Array(nq * k);
      const distances = new Float32Array(nq * k);
      nativeSync.searchBatchInto(sh.handle, ds.queries, k, ef, null, null, labels, distances);
    }
  };
  const oneTask = async () => {
    await Promise.all(col.shards.map((sh) => col.context.pool.run('search', {
      handle: sh.handle, dim, queries: shared.buffer, from: 0, count: nq, k, ef, allow: null,
      outLabels: new SharedArrayBuffer(nq * k * 4), outDistances: new SharedArrayBuffer(nq * k * 4),
    })));
  };
  const viaCol = () => col.query(ds.queries, { k, ef });
  await direct(); await oneTask(); await viaCol();
  const m = cpuMeter();
  const best = { direct: Infinity, poolTaskPerShard: Infinity, colQuery: Infinity };
  for (let rep = 0; rep < 5; rep++) {
    best.direct = Math.min(best.direct, await ms(direct));
    best.poolTaskPerShard = Math.min(best.poolTaskPerShard, await ms(oneTask));
    best.colQuery = Math.min(best.colQuery, await ms(viaCol));
  }
  const c = m();
  console.log(`ef ${ef}, ${nq} queries, ${col.shards.length} shard(s), ${t} thread(s): best of 5 ms — direct on main thread (shards one after another) ${best.direct.toFixed(1)}, one pool task per shard ${best.poolTaskPerShard.toFixed(1)}, col.query ${best.colQuery.toFixed(1)}  [QPS ${Object.values(best).map((x) => Math.round(nq / x * 1000)).join(' / ')}]; other processes ${c.otherCores.toFixed(2)} cores`);
}
await db.close();

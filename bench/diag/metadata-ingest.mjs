/**
 * Diagnostic (issue 15): ingest time with and without 4 small metadata fields per record, runs
 * alternating, best of 4, at 10,000 and 50,000 random 128-d vectors, 2 threads, one shard.
 *   npm run build && node bench/diag/metadata-ingest.mjs
 */
import { Shoal } from '../../dist/index.js';
const dim = 128;
for (const n of [10000, 50000]) {
  const base = new Float32Array(n * dim); for (let i = 0; i < base.length; i++) base[i] = Math.random();
  const metas = Array.from({ length: n }, (_, i) => ({ r: i / n, genre: `g${i % 12}`, tags: [`t${i % 5}`, `u${i % 3}`], live: i % 2 === 0 }));
  const run = async (withMeta) => {
    const db = await Shoal.open({ threads: 2, warmStart: false });
    const col = await db.createCollection('c', { dim, shards: 1, M: 16, efConstruction: 100 });
    const t0 = performance.now(); let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => { while (next < n) { const from = next; next = Math.min(n, from + 1000);
      await col.add(Array.from({ length: next - from }, (_, j) => String(from + j)), base.subarray(from * dim, next * dim), withMeta ? metas.slice(from, next) : undefined); } }));
    const s = (performance.now() - t0) / 1000; await db.close(); return s;
  };
  const plain = [], meta = [];
  for (let r = 0; r < 4; r++) { plain.push(await run(false)); meta.push(await run(true)); }
  const best = (a) => Math.min(...a);
  console.log(JSON.stringify({ n, plain: plain.map(x => +x.toFixed(2)), meta: meta.map(x => +x.toFixed(2)), bestRatio: +(best(meta) / best(plain)).toFixed(3) }));
}

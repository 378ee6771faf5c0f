/**
 * Diagnostic (issue 15): 100,000 x 128 vectors with metadata in 4 shards, exported to JSON Lines
 * and imported, and backed up and reopened; each copy compared with the source bit for bit
 * (ids, vector bits, metadata).
 *   npm run build && node bench/diag/metadata-roundtrip.mjs
 */
import { Shoal } from '../../dist/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
const dirs = [];
const temp = (prefix) => { const d = mkdtempSync(join(tmpdir(), prefix)); dirs.push(d); return d; };
const dim = 128, n = 100000;
const base = new Float32Array(n * dim); for (let i = 0; i < base.length; i++) base[i] = Math.random() * 2 - 1;
const metas = Array.from({ length: n }, (_, i) => ({ r: i / n + 1e-9, genre: `g${i % 12}`, tags: [`t${i % 5}`, `é${i % 3}`], live: i % 2 === 0 }));
const ids = Array.from({ length: n }, (_, i) => `id-${i}`);
const db = await Shoal.open({ path: temp('rt-src-'), threads: 2 });
const col = await db.createCollection('c', { dim, shards: 4, M: 16, efConstruction: 64 });
for (let i = 0; i < n; i += 5000) await col.add(ids.slice(i, i + 5000), base.subarray(i * dim, (i + 5000) * dim), metas.slice(i, i + 5000));
const compare = async (c, label) => {
  let diff = 0;
  for (let i = 0; i < n; i += 5000) {
    const got = await c.get(ids.slice(i, i + 5000));
    got.vectors.forEach((v, j) => { const want = base.subarray((i + j) * dim, (i + j + 1) * dim); const a = new Uint32Array(v.buffer, v.byteOffset, dim), b = new Uint32Array(want.buffer, want.byteOffset, dim); for (let d = 0; d < dim; d++) if (a[d] !== b[d]) { diff++; break; } });
    got.metadatas.forEach((m, j) => { if (JSON.stringify(m) !== JSON.stringify(metas[i + j])) diff++; });
  }
  console.log(label, 'count', await c.count(), 'records differing', diff);
};
await compare(col, 'source');
let t = performance.now();
const file = join(temp('rt-exp-'), 'c.jsonl');
await col.export(file);
console.log('export s', ((performance.now() - t) / 1000).toFixed(1));
t = performance.now();
const back = await db.importCollection('c2', file);
console.log('import s', ((performance.now() - t) / 1000).toFixed(1));
await compare(back, 'imported');
const dest = join(temp('rt-bk-'), 'copy');
t = performance.now();
const rep = await db.backup(dest);
console.log('backup s', ((performance.now() - t) / 1000).toFixed(1), rep.files, 'files', rep.bytes, 'bytes');
await db.close();
const copy = await Shoal.open({ path: dest, threads: 2 });
await compare(copy.getCollection('c'), 'backup copy');
await copy.close();
for (const d of dirs) rmSync(d, { recursive: true, force: true });

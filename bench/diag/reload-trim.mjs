/**
 * Diagnostic: what returning freed heap to the OS after every segment free costs a reload.
 * Builds 20 tenants of 10,000 x 128 in a temp directory, then times col.unload() + col.load()
 * (median of 5 rounds x 20 tenants) with the allocator slack the budget sets and with slack 0
 * (a trim after every free), alternating, in one process.
 *   npx tsc -p tsconfig.build.json && node bench/diag/reload-trim.mjs
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Shoal, native } from '../../dist/index.js';
import { DIM, tenantBase } from '../lib/tenants/data.mjs';

const TENANTS = 20;
const N = 10_000;
const dir = mkdtempSync(join(tmpdir(), 'shoal-reload-trim-'));
try {
  const db = await Shoal.open({ path: dir, threads: 2, warmStart: false });
  const names = Array.from({ length: TENANTS }, (_, t) => `t${t}`);
  const ids = Array.from({ length: N }, (_, i) => String(i));
  for (const [t, name] of names.entries()) {
    const col = await db.createCollection(name, { dim: DIM, space: 'l2', M: 16, efConstruction: 100 });
    await col.add(ids, tenantBase(t, N));
  }
  await db.flush();
  const defaultSlack = native.allocatorCounters().slackBytes;
  const times = { [defaultSlack]: [], 0: [] };
  for (let round = 0; round < 10; round++) {
    const slack = round % 2 === 0 ? defaultSlack : 0;
    native.setAllocatorSlack(slack);
    for (const name of names) {
      const col = db.getCollection(name);
      await col.unload();
      const started = performance.now();
      await col.load();
      times[slack].push(performance.now() - started);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  for (const [slack, xs] of Object.entries(times)) {
    console.log(`slack ${(Number(slack) / 2 ** 20).toFixed(0).padStart(3)} MiB: col.load median ${median(xs).toFixed(2)} ms (${xs.length} loads)`);
  }
  console.log(`trims: ${native.allocatorCounters().trims}`);
  await db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Scenario "durability": what the write-ahead log costs, how fast recovery replays it, and what
 * warm start buys at restart. Each measurement runs in its own child process.
 *
 * 1. Ingest: W concurrent writers (1, 8, 64) each adding batches of 10 x 128-d vectors to one
 *    collection (2 shards), with durability 'fsync', 'none' and 'unlogged'.
 * 2. Recovery: a child logs N vectors and exits without closing; reopening replays the log.
 * 3. Restart: 20 collections; time from Shoal.open to the first answered query on a collection
 *    that was hot at close, with and without warm start.
 * Sizes: 2,000 batches, 100,000 logged, 20 x 10,000 (--quick 400 / 20,000 / 20 x 2,000; --smoke
 * 40 / 2,000 / 8 x 200 and writers 1 and 8 only).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../lib/rng.mjs';

const DIM = 128;
const sizes = ({ smoke, quick }) =>
  smoke
    ? { batches: 40, logged: 2000, collections: 8, perCollection: 200, writers: [1, 8] }
    : quick
      ? { batches: 400, logged: 20_000, collections: 20, perCollection: 2000, writers: [1, 8, 64] }
      : { batches: 2000, logged: 100_000, collections: 20, perCollection: 10_000, writers: [1, 8, 64] };

export async function run(ctx) {
  const { batches, logged, collections, perCollection, writers } = sizes(ctx);
  const ingestRows = [];
  for (const w of writers) {
    for (const durability of ['fsync', 'none', 'unlogged']) {
      ctx.log(`ingest ${durability} x ${w} writers`);
      ingestRows.push(await ctx.child({ kind: 'ingest', dir: dirIn(ctx.tmp), durability, writers: w, batches }));
    }
  }
  const recDir = dirIn(ctx.tmp);
  ctx.log(`logging ${logged} vectors, then recovering`);
  await ctx.child({ kind: 'log', dir: recDir, n: logged });
  const recovery = await ctx.child({ kind: 'recover', dir: recDir, n: logged });
  const rsDir = dirIn(ctx.tmp);
  ctx.log(`restart: ${collections} collections of ${perCollection}`);
  await ctx.child({ kind: 'prepare', dir: rsDir, collections, perCollection });
  const restarts = [await ctx.child({ kind: 'restart', dir: rsDir, warmStart: true }), await ctx.child({ kind: 'restart', dir: rsDir, warmStart: false })];
  return { ingestRows, recovery, restarts };
}

const dirIn = (tmp) => mkdtempSync(join(tmp, 'db-'));

function vectors(n, seed) {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n * DIM }, next);
}

const shoal = async () => (await import('../engines/shoal.mjs')).Shoal;

async function ingest({ dir, durability, writers, batches }) {
  const Shoal = await shoal();
  const db = await Shoal.open({ path: dir, threads: 2, durability, warmStart: false });
  const col = await db.createCollection('c', { dim: DIM, shards: 2, efConstruction: 100 });
  const data = vectors(batches * 10, 1);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (;;) {
        const b = next++;
        if (b >= batches) return;
        await col.add(Array.from({ length: 10 }, (_, i) => `${b}-${i}`), data.subarray(b * 10 * DIM, (b + 1) * 10 * DIM));
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return { durability, writers, batches, vectorsPerSecond: (batches * 10) / seconds, batchesPerSecond: batches / seconds };
}

async function logThenExit({ dir, n }) {
  const Shoal = await shoal();
  const db = await Shoal.open({ path: dir, threads: 2, durability: 'none', warmStart: false });
  const col = await db.createCollection('c', { dim: DIM, shards: 2, efConstruction: 100 });
  const data = vectors(n, 2);
  for (let b = 0; b < n / 1000; b++) await col.add(Array.from({ length: 1000 }, (_, i) => `${b}-${i}`), data.subarray(b * 1000 * DIM, (b + 1) * 1000 * DIM));
  // No close: only the log holds these writes. (stdout to a pipe is synchronous on Linux.)
  process.stdout.write('{}\n');
  process.exit(0);
}

async function recover({ dir, n }) {
  const Shoal = await shoal();
  const t0 = performance.now();
  const db = await Shoal.open({ path: dir, threads: 2, warmStart: false });
  const seconds = (performance.now() - t0) / 1000;
  const count = await db.getCollection('c').count();
  await db.close();
  return { vectors: n, recovered: count, seconds, secondsPerMillion: (seconds * 1e6) / n };
}

async function prepareRestart({ dir, collections, perCollection }) {
  const Shoal = await shoal();
  const db = await Shoal.open({ path: dir, threads: 2, warmStart: false });
  for (let c = 0; c < collections; c++) {
    const col = await db.createCollection(`t${c}`, { dim: DIM, efConstruction: 100 });
    await col.add(Array.from({ length: perCollection }, (_, i) => String(i)), vectors(perCollection, 10 + c));
  }
  await db.close(); // every collection resident at close: all are "hot"
  return {};
}

async function restart({ dir, warmStart }) {
  const Shoal = await shoal();
  const q = vectors(1, 99);
  const t0 = performance.now();
  const db = await Shoal.open({ path: dir, threads: 2, warmStart });
  const opened = performance.now();
  // A client that starts querying right away, and one that waits 200 ms after open.
  await db.getCollection('t0').query(q, { k: 10 });
  const first = performance.now();
  await new Promise((done) => setTimeout(done, 200));
  const t1 = performance.now();
  await db.getCollection('t7').query(q, { k: 10 });
  const later = performance.now() - t1;
  await db.idle();
  const residentAfterIdle = db.stats().collections.filter((c) => c.residentShards > 0).length;
  await db.close();
  return { warmStart, openMs: opened - t0, firstQueryMs: first - t0, queryAfter200msMs: later, residentAfterIdle };
}

export function child(cfg) {
  const kinds = { ingest, log: logThenExit, recover, prepare: prepareRestart, restart };
  return kinds[cfg.kind](cfg);
}

export function report(data) {
  const { ingestRows, recovery, restarts } = data;
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const md = ['Concurrent writers of 10-vector batches into one collection (2 shards, efConstruction 100), per durability mode.', ''];
  md.push('| writers | fsync vec/s | none vec/s | unlogged vec/s | fsync / unlogged |', '|---:|---:|---:|---:|---:|');
  for (const w of [...new Set(ingestRows.map((r) => r.writers))]) {
    const row = (d) => ingestRows.find((r) => r.writers === w && r.durability === d);
    md.push(`| ${w} | ${fmt(row('fsync').vectorsPerSecond)} | ${fmt(row('none').vectorsPerSecond)} | ${fmt(row('unlogged').vectorsPerSecond)} | ${(row('fsync').vectorsPerSecond / row('unlogged').vectorsPerSecond).toFixed(2)} |`);
  }
  md.push('', `Recovery: ${fmt(recovery.vectors)} logged vectors replayed in ${recovery.seconds.toFixed(2)} s = ${recovery.secondsPerMillion.toFixed(1)} s per million vectors (recovered ${fmt(recovery.recovered)}).`, '');
  md.push('| warm start | open ms | open to first query ms | query 200 ms later ms | resident at the end |', '|---|---:|---:|---:|---:|');
  for (const r of restarts) md.push(`| ${r.warmStart} | ${r.openMs.toFixed(1)} | ${r.firstQueryMs.toFixed(1)} | ${r.queryAfter200msMs.toFixed(2)} | ${r.residentAfterIdle ?? r.residentAtEnd} |`);
  md.push('');
  return { md, charts: [] };
}

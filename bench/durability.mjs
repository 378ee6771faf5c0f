/**
 * Durability benchmark (issue 5): what the write-ahead log costs, how fast recovery replays it,
 * and what warm start buys at restart. Each measurement runs in its own child process.
 *
 *   npm run build && node bench/durability.mjs [--quick]
 *
 * 1. Ingest: W concurrent writers (1, 8, 64) each adding batches of 10 x 128-d vectors to one
 *    collection (2 shards), with durability 'fsync', 'none' and 'unlogged'.
 * 2. Recovery: a child logs N vectors and exits without closing; reopening replays the log.
 * 3. Restart: 20 collections; time from Shoal.open to the first answered query on a collection
 *    that was hot at close, with and without warm start.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Shoal } from '../dist/index.js';

const SELF = fileURLToPath(import.meta.url);
const RESULTS = fileURLToPath(new URL('./results/durability.json', import.meta.url));
const DIM = 128;
const args = process.argv.slice(2);
const quick = args.includes('--quick');

function vectors(n, seed) {
  let a = seed >>> 0;
  return Float32Array.from({ length: n * DIM }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  });
}

async function ingest(durability, writers, batches) {
  const path = mkdtempSync(join(os.tmpdir(), 'shoal-bench-'));
  const db = await Shoal.open({ path, threads: 2, durability, warmStart: false });
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
  rmSync(path, { recursive: true, force: true });
  return { durability, writers, batches, vectorsPerSecond: (batches * 10) / seconds, batchesPerSecond: batches / seconds };
}

async function logThenExit(path, n) {
  const db = await Shoal.open({ path, threads: 2, durability: 'none', warmStart: false });
  const col = await db.createCollection('c', { dim: DIM, shards: 2, efConstruction: 100 });
  const data = vectors(n, 2);
  for (let b = 0; b < n / 1000; b++) await col.add(Array.from({ length: 1000 }, (_, i) => `${b}-${i}`), data.subarray(b * 1000 * DIM, (b + 1) * 1000 * DIM));
  process.exit(0); // no close: only the log holds these writes
}

async function recover(path, n) {
  const t0 = performance.now();
  const db = await Shoal.open({ path, threads: 2, warmStart: false });
  const seconds = (performance.now() - t0) / 1000;
  const count = await db.getCollection('c').count();
  await db.close();
  return { vectors: n, recovered: count, replayedRecords: db.recovery.replayedRecords, seconds, secondsPerMillion: (seconds * 1e6) / n };
}

async function prepareRestart(path, collections, perCollection) {
  const db = await Shoal.open({ path, threads: 2, warmStart: false });
  for (let c = 0; c < collections; c++) {
    const col = await db.createCollection(`t${c}`, { dim: DIM, efConstruction: 100 });
    await col.add(Array.from({ length: perCollection }, (_, i) => String(i)), vectors(perCollection, 10 + c));
  }
  await db.close(); // every collection resident at close: all are "hot"
}

async function restart(path, warmStart) {
  const q = vectors(1, 99);
  const t0 = performance.now();
  const db = await Shoal.open({ path, threads: 2, warmStart });
  const opened = performance.now();
  // A client that starts querying right away, and one that waits 200 ms after open.
  await db.getCollection('t0').query(q, { k: 10 });
  const first = performance.now();
  await new Promise((done) => setTimeout(done, 200));
  const t1 = performance.now();
  await db.getCollection('t7').query(q, { k: 10 });
  const later = performance.now() - t1;
  await db.warmedUp();
  const resident = db.listCollections().filter((n) => db.getCollection(n).resident).length;
  await db.close();
  return { warmStart, openMs: opened - t0, firstQueryMs: first - t0, queryAfter200msMs: later, residentAtEnd: resident };
}

function child(name, ...rest) {
  const out = execFileSync(process.execPath, [SELF, '--child', name, ...rest.map(String)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(out.trim().split('\n').pop());
}

if (args[0] === '--child') {
  const [, name, ...rest] = args;
  let result;
  if (name === 'ingest') result = await ingest(rest[0], Number(rest[1]), Number(rest[2]));
  else if (name === 'log') await logThenExit(rest[0], Number(rest[1]));
  else if (name === 'recover') result = await recover(rest[0], Number(rest[1]));
  else if (name === 'prepare') { await prepareRestart(rest[0], Number(rest[1]), Number(rest[2])); result = {}; }
  else if (name === 'restart') result = await restart(rest[0], rest[1] === 'true');
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const batches = quick ? 400 : 2000;
  const ingestRows = [];
  for (const writers of [1, 8, 64]) for (const durability of ['fsync', 'none', 'unlogged']) {
    process.stderr.write(`[durability] ingest ${durability} x ${writers} writers\n`);
    ingestRows.push(child('ingest', durability, writers, batches));
  }
  const logged = quick ? 20_000 : 100_000;
  const recDir = mkdtempSync(join(os.tmpdir(), 'shoal-bench-rec-'));
  process.stderr.write(`[durability] logging ${logged} vectors, then recovering\n`);
  spawnSync(process.execPath, [SELF, '--child', 'log', recDir, String(logged)], { stdio: 'inherit' });
  const recovery = child('recover', recDir, logged);
  rmSync(recDir, { recursive: true, force: true });
  const rsDir = mkdtempSync(join(os.tmpdir(), 'shoal-bench-rs-'));
  child('prepare', rsDir, 20, quick ? 2000 : 10_000);
  const restarts = [child('restart', rsDir, true), child('restart', rsDir, false)];
  rmSync(rsDir, { recursive: true, force: true });

  const machine = {
    date: new Date().toISOString(), cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version,
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
  };
  mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify({ command: 'node bench/durability.mjs' + (quick ? ' --quick' : ''), machine, ingestRows, recovery, restarts }, null, 1));

  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  console.log(`\n${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}, commit ${machine.commit}\n`);
  console.log('| writers | fsync vec/s | none vec/s | unlogged vec/s | fsync / unlogged |');
  console.log('|---:|---:|---:|---:|---:|');
  for (const w of [1, 8, 64]) {
    const row = (d) => ingestRows.find((r) => r.writers === w && r.durability === d);
    console.log(`| ${w} | ${fmt(row('fsync').vectorsPerSecond)} | ${fmt(row('none').vectorsPerSecond)} | ${fmt(row('unlogged').vectorsPerSecond)} | ${(row('fsync').vectorsPerSecond / row('unlogged').vectorsPerSecond).toFixed(2)} |`);
  }
  console.log(`\nRecovery: ${fmt(recovery.vectors)} logged vectors (${recovery.replayedRecords} records) replayed in ${recovery.seconds.toFixed(2)} s = ${recovery.secondsPerMillion.toFixed(1)} s per million vectors (recovered ${fmt(recovery.recovered)}).`);
  console.log('\n| warm start | open ms | open to first query ms | query 200 ms later ms | resident after warm-up |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of restarts) console.log(`| ${r.warmStart} | ${r.openMs.toFixed(1)} | ${r.firstQueryMs.toFixed(1)} | ${r.queryAfter200msMs.toFixed(2)} | ${r.residentAtEnd} |`);
}

/**
 * Scenario "backup": moving data out of shoal and back, checked bit for bit, and what an online
 * backup costs the database that keeps serving. One child does it all on one data set:
 *
 * 1. Build: N 128-d vectors in 4 shards, flushed, then 1,000 upserts that only the log holds.
 * 2. Backup under load: db.backup() while 4 writers add new ids and a client queries. Records
 *    the backup's time and bytes, queries answered during it against the same time before, and
 *    which writes were acknowledged before the call; the copy must hold all of those and none
 *    begun after the backup resolved.
 * 3. The copy opened with Shoal.open: every one of the N records compared bit for bit.
 * 4. Export to JSON Lines, import into a new database, every record compared bit for bit;
 *    times and file size.
 * Sizes: N = 100,000 (--quick 20,000, --smoke 2,000).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../lib/rng.mjs';

const DIM = 128;
const WRITERS = 4;
const sizeOf = ({ smoke, quick }) => (smoke ? 2000 : quick ? 20_000 : 100_000);

export async function run(ctx) {
  const n = sizeOf(ctx);
  ctx.log(`${n} vectors: build, backup under load, export and import, compare`);
  const result = await ctx.child({ dir: mkdtempSync(join(ctx.tmp, 'db-')), n });
  return { n, dim: DIM, ...result };
}

function vectors(count, seed) {
  const next = mulberry32(seed);
  return Float32Array.from({ length: count * DIM }, () => next() * 2 - 1);
}

/** Ids of records whose vectors differ in any bit between two collections (and ids missing from one). */
async function mismatches(a, b, ids) {
  let bad = 0;
  for (let from = 0; from < ids.length; from += 2000) {
    const chunk = ids.slice(from, from + 2000);
    const [x, y] = await Promise.all([a.get(chunk), b.get(chunk)]);
    for (let i = 0; i < chunk.length; i++) {
      const u = new Uint32Array(x.vectors[i].slice().buffer);
      const v = new Uint32Array(y.vectors[i].slice().buffer);
      if (u.length !== v.length || u.some((w, j) => w !== v[j])) bad++;
    }
  }
  return bad;
}

/** Queries answered in `ms` by one client querying one at a time. */
async function queriesFor(col, ms, stopWhen) {
  const q = vectors(64, 77);
  let done = 0;
  const end = performance.now() + ms;
  while (stopWhen ? !stopWhen() : performance.now() < end) {
    await col.query(q.subarray((done % 64) * DIM, ((done % 64) + 1) * DIM), { k: 10 });
    done++;
  }
  return done;
}

export async function child({ dir, n }) {
  const { Shoal } = await import('../engines/shoal.mjs');
  const src = join(dir, 'src');
  const copyDir = join(dir, 'copy');
  const db = await Shoal.open({ path: src, threads: 2, warmStart: false });
  const col = await db.createCollection('c', { dim: DIM, shards: 4, efConstruction: 64 });
  const ids = Array.from({ length: n }, (_, i) => `v${i}`);
  const data = vectors(n, 1);
  let t0 = performance.now();
  for (let from = 0; from < n; from += 5000) await col.add(ids.slice(from, from + 5000), data.subarray(from * DIM, Math.min(n, from + 5000) * DIM));
  const buildSeconds = (performance.now() - t0) / 1000;
  await db.flush();
  await col.upsert(ids.slice(0, 1000), vectors(1000, 2)); // only in the log

  // 2. Backup under load.
  const before = await queriesFor(col, 1000);
  const acked = new Set();
  const startedAfter = new Set();
  let backupDone = false;
  let stop = false;
  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (let s = 0; !stop; s++) {
      const id = `w${w}-${s}`;
      if (backupDone) startedAfter.add(id);
      await col.add([id], vectors(1, 1000 + s));
      acked.add(id);
    }
  });
  while (acked.size < 4 * WRITERS) await new Promise((r) => setImmediate(r));
  const ackedAtCall = new Set(acked);
  t0 = performance.now();
  const backup = db.backup(copyDir);
  const queried = queriesFor(col, 0, () => backupDone);
  const report = await backup;
  const backupSeconds = (performance.now() - t0) / 1000;
  backupDone = true;
  const during = await queried;
  // Writers keep going a little after the backup, so that writes begun after it exist.
  while (startedAfter.size < 20) await new Promise((r) => setTimeout(r, 5));
  stop = true;
  await Promise.all(writers);

  const copy = await Shoal.open({ path: copyDir, threads: 2, warmStart: false });
  const c2 = copy.getCollection('c');
  const has = async (id) => (await c2.get([id]).then(() => true, () => false));
  let missingAcked = 0;
  for (const id of ackedAtCall) if (!(await has(id))) missingAcked++;
  let presentAfter = 0;
  for (const id of startedAfter) if (await has(id)) presentAfter++;
  t0 = performance.now();
  const backupMismatches = await mismatches(col, c2, ids);
  const compareSeconds = (performance.now() - t0) / 1000;
  await copy.close();

  // 4. Export and import.
  const file = join(dir, 'c.jsonl');
  t0 = performance.now();
  const exported = await col.export(file);
  const exportSeconds = (performance.now() - t0) / 1000;
  const target = await Shoal.open({ path: join(dir, 'imported'), threads: 2, warmStart: false });
  t0 = performance.now();
  const imported = await target.importCollection('c', file, { batchSize: 5000 });
  const importSeconds = (performance.now() - t0) / 1000;
  const importMismatches = await mismatches(col, imported, ids);
  const importedCount = await imported.count();
  const sourceCount = await col.count();
  await target.close();
  await db.close();
  const fileBytes = statSync(file).size;
  rmSync(dir, { recursive: true, force: true });
  return {
    buildSeconds,
    backup: {
      seconds: backupSeconds,
      bytes: report.bytes,
      files: report.files,
      mbPerSecond: report.bytes / 2 ** 20 / backupSeconds,
      queriesPerSecondBefore: before / 1,
      queriesPerSecondDuring: during / backupSeconds,
      ackedBeforeCall: ackedAtCall.size,
      missingAcked,
      begunAfter: startedAfter.size,
      presentAfter,
      mismatches: backupMismatches,
      compareSeconds,
    },
    exportImport: {
      records: exported.records,
      sourceCount,
      importedCount,
      fileBytes,
      exportSeconds,
      importSeconds,
      exportRecordsPerSecond: exported.records / exportSeconds,
      importRecordsPerSecond: importedCount / importSeconds,
      mismatches: importMismatches,
    },
  };
}

export function report(data) {
  const b = data.backup;
  const e = data.exportImport;
  const f = (x, d = 1) => Number(x).toFixed(d);
  return {
    md: [
      `${data.n.toLocaleString('en')} vectors of ${data.dim} dimensions in 4 shards (built in ${f(data.buildSeconds)} s), 1,000 upserts only in the log.`,
      '',
      '| step | time | size | checked |',
      '|---|---|---|---|',
      `| db.backup() under ${WRITERS} writers and a querying client | ${f(b.seconds, 2)} s (${f(b.mbPerSecond, 0)} MiB/s) | ${f(b.bytes / 2 ** 20)} MiB in ${b.files} files | ${b.mismatches} of ${data.n.toLocaleString('en')} records differ in any bit; ${b.missingAcked} of ${b.ackedBeforeCall} writes acknowledged before the call missing; ${b.presentAfter} of ${b.begunAfter} begun after it present |`,
      `| col.export() to JSON Lines | ${f(e.exportSeconds, 2)} s (${f(e.exportRecordsPerSecond, 0)} records/s) | ${f(e.fileBytes / 2 ** 20)} MiB | ${e.records} records written of ${e.sourceCount} |`,
      `| db.importCollection() | ${f(e.importSeconds, 2)} s (${f(e.importRecordsPerSecond, 0)} records/s) | | ${e.mismatches} of ${data.n.toLocaleString('en')} records differ in any bit; ${e.importedCount} imported |`,
      '',
      `Queries kept being answered during the backup: ${f(b.queriesPerSecondDuring, 0)} per second by one client querying one at a time, against ${f(b.queriesPerSecondBefore, 0)} per second in the second before it (the writers ran only during the backup).`,
      '',
    ],
  };
}

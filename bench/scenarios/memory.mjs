/**
 * Scenario "memory": how far the whole process goes above `memoryLimitBytes`. Each workload
 * runs in a fresh child: it opens a database (2 threads, a data directory, the default
 * durability), generates its input, lets the idle database settle (two full GCs, a trim) and
 * reads that RSS as the baseline; then it resets the kernel's high-water mark (writing "5" to
 * /proc/self/clear_refs) and runs. Peak RSS is VmHWM at the end, which the kernel keeps for
 * every page the process ever had (the main thread, pool workers and native helpers alike), so
 * no sampling can miss a spike. Where clear_refs cannot be written, VmRSS is sampled every
 * 2 ms instead (a lower bound; the row says so).
 *
 * Reported per workload: (peak RSS - baseline) / limit, the ledger's peak / limit (never above
 * 1), its overshoots, and whether every acknowledged write is still there at the end.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fmt, mib, table } from '../lib/common.mjs';
import { mulberry32 } from '../lib/rng.mjs';

const MiB = 2 ** 20;
const THREADS = 2;

export async function run(ctx) {
  return { rows: await ctx.runTasks(tasks(ctx)) };
}

/** The workloads and their sizes; the limits are those of issue 13. */
function tasks({ smoke, quick, full, opts }) {
  const s = (smokeV, quickV, fullV) => (smoke ? smokeV : quick ? quickV : fullV);
  const churnSeconds = Number(opts.churnSeconds ?? s(1, 30, full ? 300 : 60));
  const list = [
    { workload: 'tiny-collections', limitMiB: 64, collections: s(10, 600, 600), rows: 50, dim: 64 },
    { workload: 'large-adds', limitMiB: 64, batches: s(1, 2, 2), rows: s(1000, 25_000, 25_000), dim: 128 },
    { workload: 'large-k-queries', limitMiB: 64, rows: s(1000, 20_000, 20_000), dim: 128, k: s(200, 10_000, 10_000), concurrent: s(4, 16, 16), perCall: 4, rounds: s(1, 3, 3) },
    { workload: 'tiny-then-large-add', limitMiB: 128, collections: s(10, 300, 300), rows: s(2000, 100_000, 100_000), dim: 128 },
    { workload: 'churn', limitMiB: 64, seconds: churnSeconds, dim: 64 },
    { workload: 'unload', limitMiB: 2048, rows: s(2000, 100_000, 100_000), dim: 128 },
  ];
  return list.map((cfg) => ({ label: cfg.workload, cfg }));
}

// ---- the child ----------------------------------------------------------------------------------

function status() {
  const text = readFileSync('/proc/self/status', 'utf8');
  const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Starts a peak-RSS measurement; the returned function ends it and gives the peak. */
function peakMeter() {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return { method: 'VmHWM', stop: () => status().hwm };
  } catch {
    let peak = status().rss;
    const timer = setInterval(() => (peak = Math.max(peak, status().rss)), 2);
    return {
      method: 'VmRSS sampled every 2 ms',
      stop: () => {
        clearInterval(timer);
        return Math.max(peak, status().rss);
      },
    };
  }
}

/** Settled RSS: queued budget work done, garbage collected, maintain() run; `trim`: every free page returned too. */
async function settle(db, trim = false) {
  await db.idle();
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
  await db.maintain();
  if (trim) (await import('../engines/shoal.mjs')).native.trimAllocator();
  return status().rss;
}

function vectors(n, dim, seed) {
  const next = mulberry32(seed);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) out[i] = next() * 2 - 1;
  return out;
}

const ids = (n, prefix = '') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

export async function child(cfg) {
  const { Shoal } = await import('../engines/shoal.mjs');
  const dir = mkdtempSync(join(os.tmpdir(), 'shoal-bench-memory-'));
  const limit = cfg.limitMiB * MiB;
  let db = await Shoal.open({ path: dir, threads: THREADS, memoryLimitBytes: limit, warmStart: false });
  try {
    const w = WORKLOADS[cfg.workload];
    const input = w.prepare(cfg);
    const baseline = await settle(db, true);
    const meter = peakMeter();
    const t0 = performance.now();
    const out = await w.run(db, cfg, input, () => db);
    const seconds = (performance.now() - t0) / 1000;
    const peak = meter.stop();
    const stats = db.stats();
    const lost = out.expected === undefined ? 0 : await countLost(db, out.expected);
    return {
      workload: cfg.workload,
      limitBytes: limit,
      baselineRss: baseline,
      peakRss: peak,
      peakAboveBaseline: peak - baseline,
      ratio: (peak - baseline) / limit,
      method: meter.method,
      ledgerPeakBytes: stats.peakBytes,
      ledgerPeakRatio: stats.peakBytes / limit,
      overshoots: stats.overshoots,
      lostWrites: lost,
      seconds,
      memory: stats.memory ?? null,
      ...out.extra,
    };
  } finally {
    await db.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Acknowledged writes missing at the end: expected counts per collection against col.count. */
async function countLost(db, expected) {
  let lost = 0;
  for (const [name, count] of expected) {
    const col = db.getCollection(name);
    lost += Math.max(0, count - (await col.count()));
  }
  return lost;
}

const WORKLOADS = {
  'tiny-collections': {
    prepare: (c) => vectors(c.rows, c.dim, 1),
    async run(db, c, data) {
      const expected = new Map();
      for (let i = 0; i < c.collections; i++) {
        const col = await db.createCollection(`t${i}`, { dim: c.dim, shards: 1 });
        await col.add(ids(c.rows), data);
        await col.query(data.subarray(0, c.dim), { k: 10 });
        expected.set(`t${i}`, c.rows);
      }
      return { expected };
    },
  },
  'large-adds': {
    prepare: (c) => Array.from({ length: c.batches }, (_, b) => vectors(c.rows, c.dim, 10 + b)),
    async run(db, c, batches) {
      const col = await db.createCollection('big', { dim: c.dim });
      for (let b = 0; b < batches.length; b++) await col.add(ids(c.rows, `b${b}-`), batches[b]);
      return { expected: new Map([['big', c.rows * c.batches]]) };
    },
  },
  'large-k-queries': {
    prepare: (c) => ({ base: vectors(c.rows, c.dim, 20), queries: vectors(c.concurrent * c.perCall, c.dim, 21) }),
    async run(db, c, { base, queries }) {
      const col = await db.createCollection('q', { dim: c.dim });
      await col.add(ids(c.rows), base);
      let answered = 0;
      for (let r = 0; r < c.rounds; r++) {
        const calls = Array.from({ length: c.concurrent }, (_, i) => col.query(queries.subarray(i * c.perCall * c.dim, (i + 1) * c.perCall * c.dim), { k: c.k }));
        for (const res of await Promise.all(calls)) answered += res.filter((h) => h.ids.length === Math.min(c.k, c.rows)).length;
      }
      return { expected: new Map([['q', c.rows]]), extra: { fullAnswers: answered, queries: c.rounds * c.concurrent * c.perCall } };
    },
  },
  'tiny-then-large-add': {
    prepare: (c) => ({ tiny: vectors(50, 64, 30), big: vectors(c.rows, c.dim, 31) }),
    async run(db, c, { tiny, big }) {
      const expected = new Map();
      for (let i = 0; i < c.collections; i++) {
        const col = await db.createCollection(`t${i}`, { dim: 64, shards: 1 });
        await col.add(ids(50), tiny);
        expected.set(`t${i}`, 50);
      }
      const col = await db.createCollection('big', { dim: c.dim });
      await col.add(ids(c.rows), big);
      expected.set('big', c.rows);
      return { expected };
    },
  },
  churn: {
    prepare: (c) => vectors(4000, c.dim, 40),
    async run(db, c, data) {
      const rng = mulberry32(41);
      const expected = new Map();
      const live = [];
      const until = performance.now() + c.seconds * 1000;
      let made = 0;
      let ops = 0;
      while (performance.now() < until) {
        const name = `c${made++}`;
        const rows = 500 + Math.floor(rng() * 3500);
        const col = await db.createCollection(name, { dim: c.dim, shards: 1 + Math.floor(rng() * 2) });
        await col.add(ids(rows), data.subarray(0, rows * c.dim));
        expected.set(name, rows);
        live.push(name);
        await col.query(data.subarray(0, 8 * c.dim), { k: 10 });
        const other = db.getCollection(live[Math.floor(rng() * live.length)]);
        await other.unload();
        await other.load();
        await other.query(data.subarray(0, c.dim), { k: 50 });
        if (live.length > 12) {
          const gone = live.splice(Math.floor(rng() * live.length), 1)[0];
          await db.deleteCollection(gone);
          expected.delete(gone);
        }
        ops++;
      }
      return { expected, extra: { rounds: ops, collectionsMade: made } };
    },
  },
  unload: {
    prepare: (c) => vectors(c.rows, c.dim, 50),
    async run(db, c, data) {
      const col = await db.createCollection('u', { dim: c.dim, shards: 1 });
      await col.add(ids(c.rows), data);
      await db.flush();
      await col.unload();
      // The load's share: from a state with every free page returned, to the load settled.
      const before = await settle(db, true);
      await col.load();
      const loaded = await settle(db);
      await col.unload();
      // What shoal itself gives back: its own trims, nothing forced.
      const after = await settle(db);
      const took = loaded - before;
      return { expected: new Map([['u', c.rows]]), extra: { loadRss: took, unloadReturned: loaded - after, returnedFraction: took > 0 ? (loaded - after) / took : null } };
    },
  },
};

// ---- the report ---------------------------------------------------------------------------------

export function report(data) {
  const rows = data.rows.filter((r) => !r.error);
  const md = [
    `Peak RSS above the settled baseline of an open, idle database (${THREADS} threads, a data directory), ÷ \`memoryLimitBytes\`; each workload in a fresh process; peak = the kernel's VmHWM after resetting it (clear_refs). Goal: ≤ 1.15× everywhere, the ledger never above the limit, no acknowledged write lost.`,
    '',
  ];
  md.push(
    ...table(
      ['workload', 'limit MiB', 'baseline MiB', 'peak above MiB', 'peak ÷ limit', 'ledger peak ÷ limit', 'overshoots', 'lost writes', 'notes'],
      rows.map((r) => [
        r.workload,
        mib(r.limitBytes),
        mib(r.baselineRss),
        mib(r.peakAboveBaseline),
        `${r.ratio.toFixed(2)}×`,
        `${r.ledgerPeakRatio.toFixed(2)}×`,
        fmt(r.overshoots),
        fmt(r.lostWrites),
        r.returnedFraction != null ? `unload returned ${(100 * r.returnedFraction).toFixed(0)} % of the load's ${mib(r.loadRss)} MiB` : r.rounds != null ? `${r.rounds} rounds in ${r.seconds.toFixed(0)} s` : r.method === 'VmHWM' ? '' : r.method,
      ]),
    ),
  );
  md.push('');
  return { md, charts: [] };
}

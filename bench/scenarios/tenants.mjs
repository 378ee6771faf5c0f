/**
 * Scenario "tenants": many collections under one global memory budget, visited with
 * Zipf-distributed popularity by concurrent clients, through both pool threads; and the naive
 * baseline users build today (one hnswlib-node index per tenant in an lru-cache on the main
 * thread, sized by file size) under the same byte limits.
 *
 * Phases, each in its own child process, one after another:
 *   build   T tenants x N vectors (128-d Gaussian mixture per tenant, seeded by its index),
 *           space l2, 1 shard, M 16, efConstruction 100, into a persistent database (two
 *           tenants built at once, one per pool thread); then close.
 *   naive-build  the same tenants as hnswlib-node index files (only when the baseline runs).
 *   size    reopen without a limit, load every tenant: S = stats().usedBytes (the whole set).
 *   run     shoal reopened (warmStart: false) with memoryLimitBytes = f x S (f in 100 %, 50 %,
 *           25 %, and an extra 125 %) or without a limit, threads 2; warm up (load every tenant,
 *           then a warm-up sequence), then a closed loop: 8 clients take (tenant, query) pairs
 *           from one fixed Zipf(1.1) sequence and each issues col.query(oneVector, { k: 10 })
 *           until the sequence is used up. stats() is sampled every 50 ms, except in two control
 *           runs (unbudgeted and 100 % without the sampler) that measure what sampling costs.
 *   naive   the baseline at f x S for f in 100 %, 50 %, 25 %, same sequences and clients; its
 *           searches and readIndexSync calls run on the main thread, yielding between queries.
 *   reload  for 20 tenants: unload(), time load(), then readFileSync the same files (page cache
 *           hot); plus the segment part of a load timed alone (Segment.load).
 *
 * Options (node bench/run.mjs tenants ...): --tenants=T --vectors=N --queries=Q --warmup=W
 * (defaults 200 / 10,000 / 20,000 / 2,000; --quick 20 / 2,000 / 2,000 / 200; --smoke 6 / 300 /
 * 300 / 30), --repeats=R (runs of the unbudgeted, 100 % and 125 % configurations, alternated,
 * best kept; default 2), --only=unbudgeted,100,50,25,125,controls,naive,reload (a subset),
 * --dir=PATH (build there, or reuse the data an earlier --dir run built; kept; otherwise the
 * data lives in a temporary directory, removed at the end), --max-wait=S (wait up to S s for other processes to go quiet
 * before each measurement; default 60, smoke 0), --prof=DIR (children run with --cpu-prof).
 * SHOAL_BENCH_DIST=<path of a dist/index.js> measures that build instead of ../../dist/.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { mib, fmt, ratio, table, thin } from '../lib/common.mjs';
import { cpuMeter } from '../lib/cpu.mjs';
import { percentile } from '../lib/stats.mjs';
import { lineChart } from '../lib/svg.mjs';
import { DIM, QUERIES_PER_TENANT, tenantBase, tenantName, tenantQueries, topMass, zipfPlan } from '../lib/tenants/data.mjs';
import { distDigest, machineFacts, waitQuiet } from '../lib/tenants/machine.mjs';
import { GOALS, report as studyReport } from '../lib/tenants/report.mjs';

/** The compiled shoal measured: its dist/ directory (SHOAL_BENCH_DIST names its index.js). */
const DIST = process.env.SHOAL_BENCH_DIST ? `${dirname(process.env.SHOAL_BENCH_DIST)}/` : fileURLToPath(new URL('../../dist/', import.meta.url));
const shoal = () => import('../engines/shoal.mjs');

/** The scenario; every run uses the same values. */
export const SCENARIO = {
  dim: DIM,
  space: 'l2',
  shards: 1,
  M: 16,
  efConstruction: 100, // not the default 200: halves the build, which is not what is measured here
  k: 10,
  clients: 8,
  threads: 2,
  zipfS: 1.1,
  planSeed: 0x2f1b5,
  warmupSeed: 0x7a3d1,
  queriesPerTenant: QUERIES_PER_TENANT,
  sampleMs: 50,
  budgets: [1, 0.5, 0.25],
  /** Not asked for by the issue: the budget at which the hard threshold (0.93) is never reached with every tenant resident. */
  extraBudgets: [1.25],
  /** Control runs without the stats() sampler (its cost on the main thread is measured, not assumed). */
  controls: [null, 1],
  /** Budget settings, stated rather than read back from the database: today's defaults (docs/memory.md). */
  budget: { thresholds: { soft: 0.8, hard: 0.93, emergency: 0.98 }, evictionTarget: 0.75, cachePolicy: 'lru' },
  /** Budgets the naive baseline runs at (fractions of S, the same limits shoal gets). */
  naiveBudgets: [1, 0.5, 0.25],
  reloadTenants: 20,
  reloadRounds: 3,
  addBatch: 1000,
};

export async function run(ctx) {
  const { opts, smoke, quick, log } = ctx;
  const num = (name, s, q, d) => Number(opts[name] ?? (smoke ? s : quick ? q : d));
  const T = num('tenants', 6, 20, 200);
  const N = num('vectors', 300, 2000, 10_000);
  const Q = num('queries', 300, 2000, 20_000);
  const W = num('warmup', 30, 200, 2000);
  const repeats = num('repeats', 1, 1, 2);
  const maxWait = num('max-wait', 0, 60, 60);
  const only = typeof opts.only === 'string' ? opts.only.split(',') : null;
  const prof = typeof opts.prof === 'string' ? opts.prof : null;
  const wants = (x) => !only || only.includes(x);
  const commitAtStart = machineFacts(DIST).commit;
  const started = performance.now();
  const child = (kind, cfg) => {
    const flags = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=tenants-${kind}-${String(cfg.label ?? '').replace(/\W+/g, '')}-${Date.now()}.cpuprofile`] : [];
    return ctx.child({ kind, ...cfg }, { label: `tenants ${kind} ${cfg.label ?? ''}`, flags });
  };

  const fixedDir = typeof opts.dir === 'string' ? opts.dir : null;
  const dir = fixedDir ?? join(ctx.tmp, 'db');
  const keep = fixedDir !== null;
  const out = { scenario: { ...SCENARIO, tenants: T, vectors: N, queries: Q, warmup: W, repeats }, keep };
  mkdirSync(dir, { recursive: true });
  // ---- build (or reuse)
  const earlier = fixedDir === null ? null : builtAlready(dir, T, N);
  if (fixedDir !== null && !earlier && existsSync(join(dir, 'shoal'))) throw new Error(`${dir} holds data this scenario did not build; remove it or pick another --dir`);
  if (earlier) {
    log(`reusing the database in ${dir} (built ${earlier.date})`);
    out.build = { ...earlier, reused: true };
  } else {
    log(`building ${T} tenants x ${N.toLocaleString('en-US')} vectors ...`);
    out.build = { ...(await child('build', { dir, T, N })), date: new Date().toISOString() };
    writeFileSync(join(dir, MARKER), `${JSON.stringify({ scenario: markerOf(T, N), build: out.build })}\n`);
  }
  out.files = fileBytes(dir, T);
  log('sizing (load every tenant without a limit) ...');
  out.size = await child('size', { dir, T });
  const S = out.size.usedBytes;

  // ---- shoal under budgets
  const configs = [];
  const unb = { label: 'unbudgeted', fraction: null };
  const full = { label: '100 %', fraction: 1 };
  const extra = SCENARIO.extraBudgets.map((f) => ({ label: `${f * 100} % (extra)`, fraction: f }));
  for (let r = 0; r < repeats; r++) {
    // Alternate the two configurations the 5 % goal compares, so drift hits both alike.
    configs.push(...(r % 2 === 0 ? [unb, full] : [full, unb]));
    if (r === 0) configs.push(...SCENARIO.budgets.filter((f) => f < 1).map((f) => ({ label: `${f * 100} %`, fraction: f })));
    configs.push(...extra);
  }
  for (const f of SCENARIO.controls) {
    configs.push({ label: `${f === null ? 'unbudgeted' : `${f * 100} %`}, no sampler`, fraction: f, sampleMs: 0, control: true });
  }
  const key = (c) => (c.control ? 'controls' : c.fraction === null ? 'unbudgeted' : String(c.fraction * 100));
  out.runs = [];
  for (const c of configs.filter((x) => wants(key(x)))) {
    const quiet = await waitQuiet(maxWait);
    const limitBytes = c.fraction === null ? 0 : Math.floor(c.fraction * S);
    log(`shoal ${c.label}${limitBytes ? ` (limit ${(limitBytes / 2 ** 20).toFixed(1)} MiB)` : ''} ...${quiet.waitedSeconds >= 1 ? ` waited ${quiet.waitedSeconds.toFixed(0)} s for quiet` : ''}`);
    const r = await child('run', { dir, T, Q, W, limitBytes, label: c.label, fraction: c.fraction, sampleMs: c.sampleMs ?? SCENARIO.sampleMs });
    r.control = c.control === true;
    r.quietBefore = quiet;
    out.runs.push(r);
    log(`  ${Math.round(r.qps).toLocaleString('en-US')} q/s, hit rate ${(r.hitRate * 100).toFixed(1)} %, ${r.loads} loads, p99 ${Math.round(r.latencyUs.p99)} µs`);
  }

  // ---- the naive baseline under the same limits
  if (wants('naive')) {
    if (!existsSync(join(dir, 'naive', MARKER))) {
      log('building the baseline\'s hnswlib-node index files ...');
      const b = await child('naive-build', { dir, T, N });
      writeFileSync(join(dir, 'naive', MARKER), `${JSON.stringify(b)}\n`);
    }
    const build = JSON.parse(readFileSync(join(dir, 'naive', MARKER), 'utf8'));
    out.naive = { build, runs: [] };
    for (const f of SCENARIO.naiveBudgets) {
      const quiet = await waitQuiet(maxWait);
      log(`naive-lru at ${f * 100} % ...`);
      const r = await child('naive', { dir, T, Q, W, fraction: f, limit: Math.floor(f * S), label: `naive ${f * 100} %` });
      r.quietBefore = quiet;
      out.naive.runs.push(r);
    }
  }

  // ---- reload speed
  if (wants('reload')) {
    const quiet = await waitQuiet(maxWait);
    log('reload speed ...');
    out.reload = await child('reload', { dir, T });
    out.reload.quietBefore = quiet;
  }

  out.wallSeconds = (performance.now() - started) / 1000;
  const children = [out.build, out.size, ...out.runs, ...(out.naive?.runs ?? []), out.reload].filter(Boolean);
  out.machine = { ...machineFacts(DIST), commitAtStart, distDigests: [...new Set(children.map((r) => r.distDigest).filter(Boolean))] };
  out.goals = GOALS;
  const { verdicts, warnings } = studyReport(out);
  out.verdicts = verdicts;
  out.warnings = warnings;
  return out;
}

/** The build leaves this file in the data directory (and the baseline's in naive/) once every tenant is written. */
const MARKER = 'bench-tenants.json';
const markerOf = (T, N) => ({ T, N, dim: DIM, M: SCENARIO.M, efConstruction: SCENARIO.efConstruction, space: SCENARIO.space, shards: SCENARIO.shards, data: 'tenants/data.mjs v1' });

/** The build result recorded when `dir` was built for this scenario, or null. */
function builtAlready(dir, T, N) {
  try {
    const marker = JSON.parse(readFileSync(join(dir, MARKER), 'utf8'));
    return JSON.stringify(marker.scenario) === JSON.stringify(markerOf(T, N)) ? marker.build : null;
  } catch {
    return null;
  }
}

/** Bytes of every tenant's current segment and id files. */
function fileBytes(dir, T) {
  let seg = 0;
  let ids = 0;
  for (let t = 0; t < T; t++) {
    for (const f of tenantFiles(dir, t)) {
      if (f.endsWith('.seg')) seg += statSync(f).size;
      else ids += statSync(f).size;
    }
  }
  return { segBytes: seg, idsBytes: ids, totalBytes: seg + ids };
}

/** A tenant's .seg and .ids files (one generation: the database was closed cleanly). */
function tenantFiles(dir, t) {
  const cdir = join(dir, 'shoal', 'collections', tenantName(t));
  const files = readdirSync(cdir).filter((f) => /^\d+-\d+\.(seg|ids)$/.test(f));
  if (files.length !== 2) throw new Error(`${cdir}: expected one .seg and one .ids file, found ${files.join(', ')}`);
  return files.sort((a, b) => (a.endsWith('.seg') ? -1 : 1) - (b.endsWith('.seg') ? -1 : 1)).map((f) => join(cdir, f));
}

// ---------------------------------------------------------------------------------------------
// children

const now = () => performance.now();

function summary(values) {
  let sum = 0;
  for (const v of values) sum += v;
  return { count: values.length, mean: values.length ? sum / values.length : NaN, p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99), max: percentile(values, 100) };
}

/** Builds every tenant (two at a time: one per pool thread), unloading each when done. */
async function buildChild({ dir, T, N }) {
  const { Shoal } = await shoal();
  // The build is not measured: no write-ahead log (the files are written by unload()/close()).
  const db = await Shoal.open({ path: join(dir, 'shoal'), threads: SCENARIO.threads, durability: 'unlogged', warmStart: false });
  const ids = Array.from({ length: N }, (_, i) => `doc-${i}`);
  let next = 0;
  let generateMs = 0;
  let done = 0;
  const t0 = now();
  const meter = cpuMeter();
  const builder = async () => {
    for (;;) {
      const t = next++;
      if (t >= T) return;
      const g = now();
      const base = tenantBase(t, N);
      generateMs += now() - g;
      const col = await db.createCollection(tenantName(t), {
        dim: DIM, space: SCENARIO.space, shards: SCENARIO.shards, M: SCENARIO.M, efConstruction: SCENARIO.efConstruction,
      });
      const adds = [];
      for (let i = 0; i < N; i += SCENARIO.addBatch) {
        const end = Math.min(N, i + SCENARIO.addBatch);
        adds.push(col.add(ids.slice(i, end), base.subarray(i * DIM, end * DIM)));
      }
      await Promise.all(adds);
      await col.unload(); // writes its files and frees it: the build holds two tenants at a time
      if (++done % Math.max(1, Math.round(T / 10)) === 0) process.stderr.write(`[tenants]   built ${done}/${T} (${((now() - t0) / 1000).toFixed(0)} s)\n`);
    }
  };
  await Promise.all(Array.from({ length: SCENARIO.threads }, builder));
  const buildSeconds = (now() - t0) / 1000;
  const cpu = meter();
  const c0 = now();
  await db.close();
  const closeSeconds = (now() - c0) / 1000;
  return { buildSeconds, closeSeconds, generateSeconds: generateMs / 1000, vectorsPerSecond: (T * N) / buildSeconds, cpu, maxRssKiB: process.resourceUsage().maxRSS };
}

/** Loads every tenant without a limit: S, the bytes the whole set holds. */
async function sizeChild({ dir, T }) {
  const { Shoal } = await shoal();
  const db = await Shoal.open({ path: join(dir, 'shoal'), threads: SCENARIO.threads, warmStart: false });
  const loadMs = [];
  for (let t = 0; t < T; t++) {
    const col = db.getCollection(tenantName(t));
    const a = now();
    await col.load();
    loadMs.push(now() - a);
  }
  await db.idle();
  const s = db.stats();
  // The same after queries with both threads searching every tenant (each segment's visited
  // lists then exist; the headroom reserved for them is released).
  const queries = Array.from({ length: T }, (_, t) => tenantQueries(t, 2));
  await Promise.all(
    Array.from({ length: T }, (_, t) => {
      const col = db.getCollection(tenantName(t));
      return Promise.all([0, 1].map((i) => col.query(queries[t].subarray(i * DIM, (i + 1) * DIM), { k: SCENARIO.k })));
    }),
  );
  await db.idle();
  const q = db.stats();
  await db.close();
  const pick = (x) => ({
    usedBytes: x.usedBytes, residentBytes: x.residentBytes, reservedBytes: x.reservedBytes, nativeBytes: x.nativeBytes, idTableBytes: x.idTableBytes,
    rssBytes: x.process.rssBytes,
  });
  return { ...pick(s), afterQueries: pick(q), loadMs: summary(loadMs), firstLoadMs: loadMs[0] };
}

/** One budget configuration under the closed-loop Zipf load. */
async function runChild({ dir, T, Q, W, limitBytes, label, fraction, sampleMs }) {
  const { Shoal } = await shoal();
  const queries = Array.from({ length: T }, (_, t) => {
    const flat = tenantQueries(t);
    return Array.from({ length: QUERIES_PER_TENANT }, (_, i) => flat.subarray(i * DIM, (i + 1) * DIM));
  });
  const warm = zipfPlan(T, SCENARIO.zipfS, W, SCENARIO.warmupSeed);
  const plan = zipfPlan(T, SCENARIO.zipfS, Q, SCENARIO.planSeed);
  // warmStart off: no run inherits what the previous child left resident; the warm-up below
  // sets up the same starting state for every run.
  const options = { path: join(dir, 'shoal'), threads: SCENARIO.threads, warmStart: false, ...SCENARIO.budget, ...(limitBytes > 0 ? { memoryLimitBytes: limitBytes } : {}) };
  const db = await Shoal.open(options);
  const cols = Array.from({ length: T }, (_, t) => db.getCollection(tenantName(t)));

  const errors = {};
  let firstError = null;
  let shortResults = 0;
  const events = { rejected: [], loadMs: null, thresholds: [] };
  db.on('rejected', (e) => events.rejected.push(e));
  db.on('loaded', (e) => events.loadMs?.push(e.loadMs));
  db.on('threshold', (e) => events.thresholds.push({ level: e.level, at: now() }));

  const drive = async (p, latencies) => {
    let next = 0;
    const n = p.tenant.length;
    const client = async () => {
      for (;;) {
        const j = next++;
        if (j >= n) return;
        const t = p.tenant[j];
        const a = now();
        try {
          const [res] = await cols[t].query(queries[t][p.query[j]], { k: SCENARIO.k });
          if (res.ids.length !== SCENARIO.k) shortResults++;
        } catch (err) {
          errors[err.name] = (errors[err.name] ?? 0) + 1;
          firstError ??= `${err.name}: ${err.message}`;
        }
        if (latencies) latencies[j] = now() - a;
      }
    };
    await Promise.all(Array.from({ length: SCENARIO.clients }, client));
  };

  // Warm-up: touch every tenant once (in index order), then the warm-up sequence. Without a
  // limit every tenant is then resident; with one, the cache holds what LRU keeps.
  const w0 = now();
  for (const col of cols) {
    try {
      await col.load();
    } catch (err) {
      errors[err.name] = (errors[err.name] ?? 0) + 1;
      firstError ??= `${err.name}: ${err.message}`;
    }
  }
  await drive(warm, null);
  await db.idle();
  const warmupSeconds = (now() - w0) / 1000;
  const before = db.stats();
  const warmupErrors = { ...errors };
  for (const k of Object.keys(errors)) delete errors[k];
  events.loadMs = [];
  events.thresholds.length = 0;

  // Sampler: what the budget reports, every SCENARIO.sampleMs, while the load runs.
  const samples = { n: 0, overLimit: 0, maxUsed: 0, maxResident: 0, maxReal: 0, maxRss: 0, residentTenantsSum: 0, statsMs: [], series: [] };
  let t0 = now();
  const sample = () => {
    const a = now();
    const s = db.stats();
    samples.series.push({ t: (a - t0) / 1000, accounted: s.usedBytes, rss: s.process.rssBytes });
    samples.statsMs.push(now() - a);
    samples.n++;
    if (s.usedBytes > s.limitBytes) samples.overLimit++;
    samples.maxUsed = Math.max(samples.maxUsed, s.usedBytes);
    samples.maxResident = Math.max(samples.maxResident, s.residentBytes);
    samples.maxReal = Math.max(samples.maxReal, s.nativeBytes + s.idTableBytes);
    samples.maxRss = Math.max(samples.maxRss, s.process.rssBytes);
    samples.residentTenantsSum += s.collections.reduce((n, c) => n + (c.residentShards > 0 ? 1 : 0), 0);
  };
  const timer = sampleMs > 0 ? setInterval(sample, sampleMs) : null;
  const latencies = new Float64Array(Q);
  const meter = cpuMeter();
  const elu0 = performance.eventLoopUtilization();
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  t0 = now();
  await drive(plan, latencies);
  const t1 = now();
  eld.disable();
  const seconds = (t1 - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  const cpu = meter();
  if (timer !== null) clearInterval(timer);
  sample();
  await db.idle();
  const after = db.stats();
  const maxRssKiB = process.resourceUsage().maxRSS;
  await db.close();

  const d = (k) => after[k] - before[k];
  const lookups = d('hits') + d('misses');
  const evictions = Object.fromEntries(Object.keys(after.evictions).map((k) => [k, after.evictions[k] - before.evictions[k]]));
  const latUs = Array.from(latencies, (x) => x * 1000);
  const avgResident = samples.n ? samples.residentTenantsSum / samples.n : NaN;
  return {
    engine: 'shoal t2',
    label, fraction, limitBytes: limitBytes > 0 ? limitBytes : null, limit: limitBytes > 0 ? limitBytes : null, T, Q, W,
    // The fields the baseline reports too (naive section of the report, charts).
    ...comparable(latencies, Q, seconds, eld, samples.series, maxRssKiB),
    warmupSeconds, warmupErrors,
    seconds, qps: Q / seconds,
    latencyUs: summary(latUs),
    hits: d('hits'), misses: d('misses'), hitRate: lookups ? d('hits') / lookups : NaN,
    loads: d('loads'), loadsPerSecond: d('loads') / seconds,
    evictions, evictionsTotal: Object.values(evictions).reduce((a, b) => a + b, 0),
    admissionWaits: d('admissionWaits'),
    rejections: d('rejections'), rejectionsTotal: after.rejections, rejectedEvents: events.rejected.length,
    overshoots: after.overshoots,
    errors, firstError, shortResults,
    peakBytes: after.peakBytes,
    sampled: {
      count: samples.n, overLimit: samples.overLimit, maxUsedBytes: samples.maxUsed, maxResidentBytes: samples.maxResident,
      maxRealBytes: samples.maxReal, maxRssBytes: samples.maxRss, avgResidentTenants: avgResident, statsMs: summary(samples.statsMs),
    },
    peakAccounted: samples.maxUsed,
    peakRssSampled: samples.maxRss,
    zipfTopMassAtAvgResident: topMass(T, SCENARIO.zipfS, Math.round(avgResident)),
    maxRssKiB,
    loadMsStats: { p50: after.loadMsP50, p99: after.loadMsP99 },
    loadMsWindow: summary(events.loadMs),
    bytesLoaded: d('bytesLoaded'),
    thresholdChanges: events.thresholds.length,
    levelsEntered: Object.fromEntries([...new Set(events.thresholds.map((e) => e.level))].map((l) => [l, events.thresholds.filter((e) => e.level === l).length])),
    levelTime: levelTime(before.level, events.thresholds, t0, t1),
    sampleMs,
    config: SCENARIO.budget,
    endState: { usedBytes: after.usedBytes, residentBytes: after.residentBytes, level: after.level, residentTenants: after.collections.filter((c) => c.residentShards > 0).length },
    eventLoopUtilization: elu,
    cpu,
  };
}

/** Fraction of [t0, t1] spent at each pressure level, from the level at t0 and the threshold events. */
function levelTime(startLevel, changes, t0, t1) {
  const time = {};
  let level = startLevel;
  let at = t0;
  for (const e of changes) {
    if (e.at < t0 || e.at > t1) continue;
    time[level] = (time[level] ?? 0) + (e.at - at);
    level = e.level;
    at = e.at;
  }
  time[level] = (time[level] ?? 0) + (t1 - at);
  return Object.fromEntries(Object.entries(time).map(([l, ms]) => [l, ms / (t1 - t0)]));
}

/** Reload speed: col.load() after col.unload(), against readFileSync of the same files. */
async function reloadChild({ dir, T }) {
  const { Shoal, Segment } = await shoal();
  const n = Math.min(T, SCENARIO.reloadTenants);
  const picks = Array.from({ length: n }, (_, i) => Math.floor((i * T) / n));
  const db = await Shoal.open({ path: join(dir, 'shoal'), threads: SCENARIO.threads, warmStart: false });
  const rows = picks.map((t) => ({ tenant: t, files: tenantFiles(dir, t), loadMs: [], readMs: [], readSegMs: [], idsMs: [], segLoadMs: [], createMs: [] }));
  for (const r of rows) {
    r.segBytes = statSync(r.files[0]).size;
    r.idsBytes = statSync(r.files[1]).size;
    await db.getCollection(tenantName(r.tenant)).load(); // files into the page cache, code warmed up
  }
  for (let round = 0; round < SCENARIO.reloadRounds; round++) {
    for (const r of rows) {
      const col = db.getCollection(tenantName(r.tenant));
      await col.unload();
      let a = now();
      await col.load(); // into the memory the unload just freed (native/accounting.h: slack)
      r.loadMs.push(now() - a);
      // A GC first frees the previous round's read buffers, so the read too gets memory the
      // process already has mapped, every time. Without it the read's speed depended on whether
      // V8 had collected the last buffer yet (1.7 to 5.3 GB/s across runs).
      globalThis.gc?.();
      a = now();
      readFileSync(r.files[0]);
      r.readSegMs.push(now() - a);
      readFileSync(r.files[1]);
      r.readMs.push(now() - a);
    }
  }
  await db.close();
  // The segment part of a load, timed alone (the id table has no public reader).
  for (let round = 0; round < SCENARIO.reloadRounds; round++) {
    for (const r of rows) {
      let a = now();
      const seg = await Segment.load(r.files[0]);
      r.segLoadMs.push(now() - a);
      const { capacity, M, efConstruction } = seg.info();
      await seg.free();
      // What a segment of that capacity costs before anything is read into it.
      a = now();
      const empty = await Segment.create({ dim: DIM, space: SCENARIO.space, M, efConstruction, capacity });
      r.createMs.push(now() - a);
      r.capacity = capacity;
      await empty.free();
    }
  }
  const med = (xs) => percentile(xs, 50);
  const total = (k) => rows.reduce((s, r) => s + med(r[k]), 0);
  const bytes = rows.reduce((s, r) => s + r.segBytes + r.idsBytes, 0);
  const segBytes = rows.reduce((s, r) => s + r.segBytes, 0);
  const mbps = (b, ms) => b / 1e6 / (ms / 1000);
  return {
    tenants: picks,
    rounds: SCENARIO.reloadRounds,
    bytes, segBytes,
    loadMsTotal: total('loadMs'), readMsTotal: total('readMs'), segLoadMsTotal: total('segLoadMs'), createMsTotal: total('createMs'), readSegMsTotal: total('readSegMs'),
    loadMBps: mbps(bytes, total('loadMs')),
    readMBps: mbps(bytes, total('readMs')),
    segLoadMBps: mbps(segBytes, total('segLoadMs')),
    readSegMBps: mbps(segBytes, total('readSegMs')),
    ratio: total('readMs') / total('loadMs'),
    loadMs: summary(rows.map((r) => med(r.loadMs))),
    rows: rows.map((r) => ({ tenant: r.tenant, capacity: r.capacity, createMs: r.createMs, segBytes: r.segBytes, idsBytes: r.idsBytes, loadMs: r.loadMs, readMs: r.readMs, segLoadMs: r.segLoadMs })),
  };
}


/** What both engines report alike: latency in ms, its distribution, event-loop p99, memory over time. */
function comparable(latencies, Q, seconds, eld, series, maxRssKiB) {
  const lats = Array.from(latencies);
  const sorted = Float64Array.from(lats).sort();
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return {
    qps: Q / seconds,
    latencyMs: summary(lats),
    latencyCdf: [0, 10, 25, 50, 75, 90, 95, 99, 99.9, 100].map((p) => [p, at(p)]),
    eventLoopP99Ms: eld.percentile(99) / 1e6,
    samples: thin(series),
    maxRss: maxRssKiB * 1024,
  };
}

const naiveFiles = (dir, T) => Array.from({ length: T }, (_, t) => join(dir, 'naive', `${tenantName(t)}.bin`));

/** The baseline's index files: the same tenants, built with hnswlib-node on the main thread. */
async function naiveBuildChild({ dir, T, N }) {
  const { HierarchicalNSW } = await import('../engines/hnswlib-node.mjs');
  mkdirSync(join(dir, 'naive'), { recursive: true });
  const t0 = now();
  const paths = naiveFiles(dir, T);
  for (let t = 0; t < T; t++) {
    const base = tenantBase(t, N);
    const index = new HierarchicalNSW('l2', DIM);
    index.initIndex(N, SCENARIO.M, SCENARIO.efConstruction, 100);
    for (let i = 0; i < N; i++) index.addPoint(Array.from(base.subarray(i * DIM, (i + 1) * DIM)), i);
    index.writeIndexSync(paths[t]);
  }
  return { buildSeconds: (now() - t0) / 1000, fileBytes: paths.reduce((s, p) => s + statSync(p).size, 0) };
}

/** The baseline under `limit` bytes: same warm-up and query sequences, same clients. */
async function naiveChild({ dir, T, Q, W, fraction, limit }) {
  const { create } = await import('../engines/naive-lru.mjs');
  const lru = create({ files: naiveFiles(dir, T), dim: DIM, maxSize: limit });
  const queries = Array.from({ length: T }, (_, t) => {
    const flat = tenantQueries(t);
    return Array.from({ length: QUERIES_PER_TENANT }, (_, i) => Array.from(flat.subarray(i * DIM, (i + 1) * DIM)));
  });
  const loop = async (plan, lat) => {
    let next = 0;
    const client = async () => {
      for (;;) {
        const j = next++;
        if (j >= plan.tenant.length) return;
        const a = now();
        lru.get(plan.tenant[j]).searchKnn(queries[plan.tenant[j]][plan.query[j]], SCENARIO.k);
        await new Promise(setImmediate); // let the other clients and the sampler run between queries
        if (lat) lat[j] = now() - a;
      }
    };
    await Promise.all(Array.from({ length: SCENARIO.clients }, client));
  };
  await loop(zipfPlan(T, SCENARIO.zipfS, W, SCENARIO.warmupSeed), null);
  const before = { ...lru.stats };
  const series = [];
  const t0 = now();
  const sample = () => series.push({ t: (now() - t0) / 1000, accounted: lru.accountedBytes(), rss: process.memoryUsage.rss() });
  const timer = setInterval(sample, SCENARIO.sampleMs);
  const lat = new Float64Array(Q);
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  await loop(zipfPlan(T, SCENARIO.zipfS, Q, SCENARIO.planSeed), lat);
  eld.disable();
  const seconds = (now() - t0) / 1000;
  clearInterval(timer);
  sample();
  const hits = lru.stats.hits - before.hits;
  const misses = lru.stats.misses - before.misses;
  return {
    engine: 'naive-lru', fraction, limit,
    ...comparable(lat, Q, seconds, eld, series, process.resourceUsage().maxRSS),
    hitRate: hits / (hits + misses), loads: lru.stats.loads - before.loads, loadMsTotal: lru.stats.loadMs - before.loadMs,
    peakAccounted: Math.max(...series.map((s) => s.accounted)), peakRssSampled: Math.max(...series.map((s) => s.rss)),
  };
}

export async function child(cfg) {
  const kinds = { build: buildChild, 'naive-build': naiveBuildChild, size: sizeChild, run: runChild, naive: naiveChild, reload: reloadChild };
  const result = await kinds[cfg.kind](cfg);
  return { kind: cfg.kind, distDigest: distDigest(DIST), ...result };
}

// ---------------------------------------------------------------------------------------------
// report

export function report(data) {
  const md = [];
  if (data.size) md.push(...studyReport(data).lines);
  if (data.naive) md.push(...naiveSection(data));
  const charts = data.naive ? naiveCharts(data) : [];
  for (const c of charts) md.push(`![${c.alt}](${c.file})`, '');
  return { md, charts };
}

/** shoal's measured run at `fraction` (the best of its repeats; control runs excluded). */
function shoalAt(data, fraction) {
  const rs = (data.runs ?? []).filter((r) => r.fraction === fraction && !r.control && r.samples);
  return rs.length ? rs.reduce((a, b) => (b.qps > a.qps ? b : a)) : null;
}

function naiveSection(data) {
  const { build, runs } = data.naive;
  const sc = data.scenario ?? {};
  const S = data.size?.usedBytes ?? data.naive.S;
  const rows = runs.flatMap((n) => [shoalAt(data, n.fraction), n].filter(Boolean));
  const md = ['### Against the naive baseline', ''];
  md.push(`${fmt(sc.tenants)} tenants × ${fmt(sc.vectors)} vectors. Both engines get the same limit, a fraction of S = ${mib(S)} MiB (shoal's exact stats().usedBytes with every tenant resident; hnswlib-node holds the same hnswlib structures). The baseline counts each index by its file size, as lru-cache users do (${mib(build.fileBytes)} MiB for the whole set by that estimate), so its real memory (RSS) shows whether it kept to the limit. It runs every search and every readIndexSync on the main thread, yielding with setImmediate between queries; shoal runs its 2 pool threads. Latency = from a client's call to its answer. Peak RSS = the process's max RSS (getrusage).`, '');
  md.push(...table(['engine', 'budget', 'limit MiB', 'QPS', 'p50 ms', 'p99 ms', 'hit rate', 'loads', 'peak accounted MiB', 'peak RSS MiB', 'peak RSS / limit', 'event-loop p99 ms'], rows.map((r) => [r.engine, `${r.fraction * 100} %`, mib(r.limit), fmt(r.qps), fmt(r.latencyMs.p50, 2), fmt(r.latencyMs.p99, 2), `${fmt(r.hitRate * 100, 1)} %`, fmt(r.loads), mib(r.peakAccounted), mib(r.maxRss), `${fmt(r.maxRss / r.limit, 2)}×`, fmt(r.eventLoopP99Ms, 1)])));
  md.push('');
  const ratios = [];
  for (const n of runs) {
    const s = shoalAt(data, n.fraction);
    if (s) ratios.push([`${n.fraction * 100} %`, ratio(s.qps, n.qps), ratio(n.latencyMs.p99, s.latencyMs.p99), `${fmt(n.maxRss / n.limit, 2)}× vs shoal ${fmt(s.maxRss / s.limit, 2)}×`, `${mib(n.peakRssSampled - n.limit)} MiB over`]);
  }
  md.push('Shoal ÷ naive:', '', ...table(['budget', 'throughput', 'p99 latency (naive ÷ shoal)', 'peak RSS / limit', 'naive sampled RSS above its limit'], ratios, ['l', 'r', 'r', 'l', 'r']), '');
  return md;
}

function naiveCharts(data) {
  const charts = [];
  const all = [];
  for (const n of data.naive.runs) {
    const rs = [shoalAt(data, n.fraction), n].filter(Boolean);
    all.push(...rs);
    const series = rs.flatMap((r) => [
      { name: `${r.engine} RSS`, points: r.samples.map((s) => [s.t, s.rss / 2 ** 20]) },
      { name: `${r.engine} accounted`, dashed: true, points: r.samples.map((s) => [s.t, s.accounted / 2 ** 20]) },
    ]);
    const file = `tenants-memory-${n.fraction * 100}.svg`;
    const hlines = rs.map((r, i) => ({ y: r.limit / 2 ** 20, label: `${r.engine} limit`, color: i ? '#d62728' : '#1f77b4' }));
    charts.push({ file, alt: `memory over time, ${n.fraction * 100} %`, svg: lineChart({ title: `Memory over time, budget ${n.fraction * 100} %`, xLabel: 'seconds into the run', yLabel: 'MiB', series, markers: false, hlines }) });
  }
  const series = all.map((r) => ({ name: `${r.engine} ${r.fraction * 100} %`, points: r.latencyCdf.filter(([, v]) => v > 0) }));
  charts.push({ file: 'tenants-latency.svg', alt: 'latency distribution', svg: lineChart({ title: 'Query latency distribution', xLabel: 'percentile', yLabel: 'latency ms', logY: true, series }) });
  return charts;
}

/**
 * Multi-tenant benchmark: many collections under one global memory budget, visited with
 * Zipf-distributed popularity by concurrent clients, through both pool threads.
 *
 *   npx tsc -p tsconfig.build.json && node bench/tenants.mjs [--quick] [options]
 *
 * Phases, each in its own child process (`--child <kind> <json>`), one after another:
 *   build   T tenants x N vectors (128-d Gaussian mixture per tenant, seeded by its index),
 *           space l2, 1 shard, M 16, efConstruction 100, into a persistent database in a temp
 *           directory (two tenants built at once, one per pool thread); then close.
 *   size    reopen without a limit, load every tenant: S = stats().usedBytes (the whole set).
 *   run     reopen (warmStart: false) with memoryLimitBytes = f x S (f in 100 %, 50 %, 25 %, and
 *           an extra 125 %) or without a limit, threads 2; warm up (load every tenant, then a
 *           warm-up sequence), then a closed loop: 8 clients take (tenant, query) pairs from one
 *           fixed Zipf(1.1) sequence and each issues col.query(oneVector, { k: 10 }) until the
 *           sequence is used up. stats() is sampled every 50 ms, except in two control runs
 *           (unbudgeted and 100 % without the sampler) that measure what the sampling costs.
 *   reload  for 20 tenants: unload(), time load(), then readFileSync the same files (page cache
 *           hot); plus the parts of a load timed alone.
 * Each child prints one JSON line; the parent prints Markdown and writes bench/results/tenants.json.
 *
 * Options: --tenants=T --vectors=N --queries=Q --warmup=W (defaults 200 / 10,000 / 20,000 / 2,000;
 * --quick: 20 / 2,000 / 2,000 / 200), --repeats=R (runs of the unbudgeted, 100 % and 125 %
 * configurations, alternated, best kept; default 2, quick 1),
 * --only=unbudgeted,100,50,25,125,controls,reload (a subset of the runs), --dir=PATH
 * (build there, or reuse a database a previous --dir run built; kept), --keep (keep the temp
 * database), --max-wait=S (wait up to S s for other processes to go quiet before each
 * measurement; default 60), --prof=DIR (children run with --cpu-prof into DIR), --out=FILE (the JSON;
 * default bench/results/tenants.json), --report=FILE (print the Markdown of an earlier results file; runs nothing).
 * Environment: SHOAL_BENCH_DIST=<dir> measures the compiled JS in <dir> instead of ../dist/ (its
 * addon: <dir>/../build/Release, as node-gyp-build finds it); a <dir>/../COMMIT file names its commit.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runJsonChild } from './lib/child.mjs';
import { cpuMeter } from './lib/cpu.mjs';
import { percentile } from './lib/stats.mjs';
import { DIM, QUERIES_PER_TENANT, tenantBase, tenantName, tenantQueries, topMass, zipfPlan } from './lib/tenants/data.mjs';
import { distDigest, machineFacts, waitQuiet } from './lib/tenants/machine.mjs';
import { GOALS, report } from './lib/tenants/report.mjs';

const SELF = fileURLToPath(import.meta.url);
/**
 * The compiled shoal to measure: ../dist/ unless SHOAL_BENCH_DIST names another dist/ directory
 * (e.g. a build of a clean `git archive HEAD` while the working tree is mid-edit).
 */
const DIST = process.env.SHOAL_BENCH_DIST ? pathToFileURL(`${process.env.SHOAL_BENCH_DIST.replace(/\/+$/, '')}/`) : new URL('../dist/', import.meta.url);
const DEFAULT_RESULTS = fileURLToPath(new URL('./results/tenants.json', import.meta.url));

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
  reloadTenants: 20,
  reloadRounds: 3,
  addBatch: 1000,
};

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? fallback : a.slice(name.length + 3);
};


// ---------------------------------------------------------------------------------------------
// parent

async function parent() {
  const rerender = opt('report', null);
  if (rerender !== null) {
    // Markdown again from a results file, without measuring anything.
    process.stdout.write(`${report(JSON.parse(readFileSync(rerender, 'utf8'))).lines.join('\n')}\n`);
    return;
  }
  const commitAtStart = machineFacts(fileURLToPath(DIST)).commit;
  const quick = args.includes('--quick');
  const T = Number(opt('tenants', quick ? 20 : 200));
  const N = Number(opt('vectors', quick ? 2000 : 10_000));
  const Q = Number(opt('queries', quick ? 2000 : 20_000));
  const W = Number(opt('warmup', quick ? 200 : 2000));
  const repeats = Number(opt('repeats', quick ? 1 : 2));
  const maxWait = Number(opt('max-wait', 60));
  const only = opt('only', null)?.split(',');
  const prof = opt('prof', null);
  const wants = (x) => !only || only.includes(x);
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  const log = (m) => process.stderr.write(`[tenants] ${m} (${elapsed()})\n`);

  const fixedDir = opt('dir', null);
  const dir = fixedDir ?? mkdtempSync(join(os.tmpdir(), 'shoal-tenants-'));
  const keep = fixedDir !== null || args.includes('--keep');
  const child = (kind, cfg) => runChild_(kind, cfg, prof);
  const out = { quick, scenario: { ...SCENARIO, tenants: T, vectors: N, queries: Q, warmup: W, repeats }, dir, keep };
  try {
    // ---- build (or reuse)
    const earlier = fixedDir === null ? null : builtAlready(dir, T, N);
    if (fixedDir !== null && !earlier && existsSync(join(dir, 'MANIFEST'))) throw new Error(`${dir} holds a database this scenario did not build; remove it or pick another --dir`);
    if (earlier) {
      log(`reusing the database in ${dir} (built ${earlier.date})`);
      out.build = { ...earlier, reused: true };
    } else {
      log(`building ${T} tenants x ${N.toLocaleString('en-US')} vectors in ${dir} ...`);
      out.build = { ...(await child('build', { dir, T, N })), date: new Date().toISOString() };
      writeFileSync(join(dir, MARKER), `${JSON.stringify({ scenario: markerOf(T, N), build: out.build })}\n`);
    }
    out.files = fileBytes(dir, T);
    log(`sizing (load every tenant without a limit) ...`);
    out.size = await child('size', { dir, T });
    const S = out.size.usedBytes;

    // ---- budget runs
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
      log(`run ${c.label}${limitBytes ? ` (limit ${(limitBytes / 2 ** 20).toFixed(1)} MiB)` : ''} ...${quiet.waitedSeconds >= 1 ? ` waited ${quiet.waitedSeconds.toFixed(0)} s for quiet` : ''}`);
      const r = await child('run', { dir, T, Q, W, limitBytes, label: c.label, fraction: c.fraction, sampleMs: c.sampleMs ?? SCENARIO.sampleMs });
      r.control = c.control === true;
      r.quietBefore = quiet;
      out.runs.push(r);
      log(`  ${Math.round(r.qps).toLocaleString('en-US')} q/s, hit rate ${(r.hitRate * 100).toFixed(1)} %, ${r.loads} loads, p99 ${Math.round(r.latencyUs.p99)} µs`);
    }

    // ---- reload speed
    if (wants('reload')) {
      const quiet = await waitQuiet(maxWait);
      log('reload speed ...');
      out.reload = await child('reload', { dir, T });
      out.reload.quietBefore = quiet;
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }

  out.wallSeconds = (performance.now() - started) / 1000;
  out.machine = { ...machineFacts(fileURLToPath(DIST)), commitAtStart, distDigests: [...new Set([out.build, out.size, ...(out.runs ?? []), out.reload].filter(Boolean).map((r) => r.distDigest).filter(Boolean))] };
  out.command = `npx tsc -p tsconfig.build.json && node ${['bench/tenants.mjs', ...args].join(' ')}`;
  out.goals = GOALS;
  const { lines, verdicts, warnings } = report(out);
  out.verdicts = verdicts;
  out.warnings = warnings;
  process.stdout.write(`${lines.join('\n')}\n`);
  const results = opt('out', DEFAULT_RESULTS);
  mkdirSync(dirname(results), { recursive: true });
  writeFileSync(results, `${JSON.stringify(out, null, 2)}\n`);
  log(`raw results in ${results}`);
}

/** The build child leaves this file in the database directory once every tenant is written. */
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
  const cdir = join(dir, 'collections', tenantName(t));
  const files = readdirSync(cdir).filter((f) => /^\d+-\d+\.(seg|ids)$/.test(f));
  if (files.length !== 2) throw new Error(`${cdir}: expected one .seg and one .ids file, found ${files.join(', ')}`);
  return files.sort((a, b) => (a.endsWith('.seg') ? -1 : 1) - (b.endsWith('.seg') ? -1 : 1)).map((f) => join(cdir, f));
}

function runChild_(kind, cfg, prof) {
  const flags = ['--expose-gc'];
  if (prof) flags.push('--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=tenants-${kind}-${String(cfg.label ?? '').replace(/\W+/g, '')}-${Date.now()}.cpuprofile`);
  return runJsonChild([...flags, SELF, '--child', kind, JSON.stringify(cfg)], { label: `${kind} ${JSON.stringify(cfg)}` });
}

// ---------------------------------------------------------------------------------------------
// children

const now = () => performance.now();
const shoal = () => import(new URL('index.js', DIST).href);

function summary(values) {
  let sum = 0;
  for (const v of values) sum += v;
  return { count: values.length, mean: values.length ? sum / values.length : NaN, p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99), max: percentile(values, 100) };
}

/** Builds every tenant (two at a time: one per pool thread), unloading each when done. */
async function buildChild({ dir, T, N }) {
  const { Shoal } = await shoal();
  // The build is not measured: no write-ahead log (the files are written by unload()/close()).
  const db = await Shoal.open({ path: dir, threads: SCENARIO.threads, durability: 'unlogged', warmStart: false });
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
  const db = await Shoal.open({ path: dir, threads: SCENARIO.threads, warmStart: false });
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
  const options = { path: dir, threads: SCENARIO.threads, warmStart: false, ...(limitBytes > 0 ? { memoryLimitBytes: limitBytes } : {}) };
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
  const samples = { n: 0, overLimit: 0, maxUsed: 0, maxResident: 0, maxReal: 0, maxRss: 0, residentTenantsSum: 0, statsMs: [] };
  const sample = () => {
    const a = now();
    const s = db.stats();
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
  const t0 = now();
  await drive(plan, latencies);
  const t1 = now();
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
    label, fraction, limitBytes: limitBytes > 0 ? limitBytes : null, T, Q, W,
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
    zipfTopMassAtAvgResident: topMass(T, SCENARIO.zipfS, Math.round(avgResident)),
    maxRssKiB,
    loadMsStats: { p50: after.loadMsP50, p99: after.loadMsP99 },
    loadMsWindow: summary(events.loadMs),
    bytesLoaded: d('bytesLoaded'),
    thresholdChanges: events.thresholds.length,
    levelsEntered: Object.fromEntries([...new Set(events.thresholds.map((e) => e.level))].map((l) => [l, events.thresholds.filter((e) => e.level === l).length])),
    levelTime: levelTime(before.level, events.thresholds, t0, t1),
    sampleMs,
    config: { evictionTarget: db.config.evictionTarget, thresholds: db.config.thresholds, cachePolicy: db.config.cachePolicy, admissionWaitMs: db.config.admissionWaitMs, durability: db.config.durability },
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
  const { readIds } = await import(new URL('storage/id-file.js', DIST).href);
  const n = Math.min(T, SCENARIO.reloadTenants);
  const picks = Array.from({ length: n }, (_, i) => Math.floor((i * T) / n));
  const db = await Shoal.open({ path: dir, threads: SCENARIO.threads, warmStart: false });
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
  // The parts of a load, timed alone: the id table (JS, main thread) and the segment (native).
  for (let round = 0; round < SCENARIO.reloadRounds; round++) {
    for (const r of rows) {
      let a = now();
      readIds(r.files[1]);
      r.idsMs.push(now() - a);
      a = now();
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
    loadMsTotal: total('loadMs'), readMsTotal: total('readMs'), idsMsTotal: total('idsMs'), segLoadMsTotal: total('segLoadMs'), createMsTotal: total('createMs'), readSegMsTotal: total('readSegMs'),
    loadMBps: mbps(bytes, total('loadMs')),
    readMBps: mbps(bytes, total('readMs')),
    segLoadMBps: mbps(segBytes, total('segLoadMs')),
    readSegMBps: mbps(segBytes, total('readSegMs')),
    ratio: total('readMs') / total('loadMs'),
    loadMs: summary(rows.map((r) => med(r.loadMs))),
    rows: rows.map((r) => ({ tenant: r.tenant, capacity: r.capacity, createMs: r.createMs, segBytes: r.segBytes, idsBytes: r.idsBytes, loadMs: r.loadMs, readMs: r.readMs, idsMs: r.idsMs, segLoadMs: r.segLoadMs })),
  };
}

// ---------------------------------------------------------------------------------------------
// entry (last: every declaration above is initialised)

if (args[0] === '--child') {
  const cfg = JSON.parse(args[2]);
  const kinds = { build: buildChild, size: sizeChild, run: runChild, reload: reloadChild };
  const result = await kinds[args[1]](cfg);
  process.stdout.write(`${JSON.stringify({ kind: args[1], distDigest: distDigest(fileURLToPath(DIST)), ...result })}\n`);
} else {
  await parent();
}

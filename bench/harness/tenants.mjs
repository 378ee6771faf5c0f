/**
 * Scenario "tenants": many tenants under a memory budget, shoal against the naive baseline
 * (hnswlib-node indices in an lru-cache on the main thread). Both engines get the same byte
 * limit, a fraction of S = shoal's stats().usedBytes with every tenant resident (the exact
 * bytes of the whole set; hnswlib-node holds the same hnswlib structures). The baseline sizes
 * each index by its file, as lru-cache users do, so its real memory can pass the limit; that is
 * measured, not assumed. 8 closed-loop clients issue one fixed Zipf(1.1) sequence of single
 * queries.
 */
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DIM, QUERIES_PER_TENANT, tenantBase, tenantName, tenantQueries, zipfPlan } from '../lib/tenants/data.mjs';
import { fmt, mib, now, ratio, summary, table, thin } from './common.mjs';
import { lineChart } from './svg.mjs';

export const passFirst = true;
const G = { M: 16, efConstruction: 64, k: 10, clients: 8, zipfS: 1.1, sampleMs: 50 };
const BUDGETS = [1, 0.5, 0.25];

export function tasks({ smoke, full, tmp }) {
  const T = smoke ? 6 : 200; // "hundreds of collections"; --full makes each 5x larger (N)
  const N = smoke ? 300 : full ? 10_000 : 2_000;
  const Q = smoke ? 300 : full ? 40_000 : 8_000;
  const W = smoke ? 30 : 1_000;
  const dir = join(tmp, 'tenants');
  const base = { T, N, Q, W, dir };
  const out = [{ label: 'build (both engines)', cfg: { ...base, kind: 'build' } }];
  for (const f of BUDGETS) for (const engine of ['shoal', 'naive-lru']) out.push({ label: `${engine} at ${f * 100} %`, cfg: { ...base, kind: 'run', engine, fraction: f } });
  return out;
}

const files = (dir, T) => Array.from({ length: T }, (_, t) => join(dir, 'naive', `${tenantName(t)}.bin`));

export async function child(cfg) {
  return cfg.kind === 'build' ? build(cfg) : cfg.engine === 'shoal' ? runShoal(cfg) : runNaive(cfg);
}

async function build({ T, N, dir }) {
  const { Shoal } = await import('../engines/shoal.mjs');
  const { HierarchicalNSW } = await import('../engines/hnswlib-node.mjs');
  mkdirSync(join(dir, 'naive'), { recursive: true });
  const t0 = now();
  const db = await Shoal.open({ path: join(dir, 'shoal'), threads: 2, durability: 'unlogged', warmStart: false });
  const ids = Array.from({ length: N }, (_, i) => String(i));
  const paths = files(dir, T);
  for (let t = 0; t < T; t++) {
    const base = tenantBase(t, N);
    const col = await db.createCollection(tenantName(t), { dim: DIM, space: 'l2', shards: 1, M: G.M, efConstruction: G.efConstruction });
    const adding = col.add(ids, base);
    // The baseline's index, built meanwhile on the main thread, written to its file.
    const index = new HierarchicalNSW('l2', DIM);
    index.initIndex(N, G.M, G.efConstruction, 100);
    for (let i = 0; i < N; i++) index.addPoint(Array.from(base.subarray(i * DIM, (i + 1) * DIM)), i);
    index.writeIndexSync(paths[t]);
    await adding;
    await col.unload();
  }
  await db.close();
  const buildSeconds = (now() - t0) / 1000;
  // S: bytes shoal accounts with every tenant resident.
  const db2 = await Shoal.open({ path: join(dir, 'shoal'), threads: 2, warmStart: false });
  for (let t = 0; t < T; t++) await db2.getCollection(tenantName(t)).load();
  await db2.idle();
  const s = db2.stats();
  await db2.close();
  const naive = (await import('../engines/naive-lru.mjs')).create({ files: paths, dim: DIM, maxSize: 1 });
  return { buildSeconds, shoalAllBytes: s.usedBytes, naiveAllBytes: naive.totalBytes };
}

/** Shared closed loop: `query(t, q)` resolves when answered; records latency and samples memory. */
async function drive({ T, Q, W }, query, sampleFn) {
  const queries = Array.from({ length: T }, (_, t) => {
    const flat = tenantQueries(t);
    return Array.from({ length: QUERIES_PER_TENANT }, (_, i) => flat.subarray(i * DIM, (i + 1) * DIM));
  });
  const loop = async (plan, lat) => {
    let next = 0;
    const client = async () => {
      for (;;) {
        const j = next++;
        if (j >= plan.tenant.length) return;
        const a = now();
        await query(plan.tenant[j], queries[plan.tenant[j]][plan.query[j]]);
        if (lat) lat[j] = now() - a;
      }
    };
    await Promise.all(Array.from({ length: G.clients }, client));
  };
  await loop(zipfPlan(T, G.zipfS, W, 0x7a3d1), null);
  const samples = [];
  const t0 = now();
  const sample = () => samples.push({ t: (now() - t0) / 1000, ...sampleFn() });
  const timer = setInterval(sample, G.sampleMs);
  const lat = new Float64Array(Q);
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  await loop(zipfPlan(T, G.zipfS, Q, 0x2f1b5), lat);
  eld.disable();
  const seconds = (now() - t0) / 1000;
  clearInterval(timer);
  sample();
  const lats = Array.from(lat);
  return { seconds, qps: Q / seconds, latencyMs: summary(lats), latencyCdf: [0, 10, 25, 50, 75, 90, 95, 99, 99.9, 100].map((p) => [p, percentileOf(lats, p)]), samples, eventLoopP99Ms: eld.percentile(99) / 1e6 };
}

function percentileOf(values, p) {
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

async function runShoal(cfg) {
  const { Shoal } = await import('../engines/shoal.mjs');
  const { T, dir, fraction, shoalAllBytes } = { ...cfg, ...cfg.sizes };
  const limit = Math.floor(fraction * shoalAllBytes);
  const db = await Shoal.open({ path: join(dir, 'shoal'), threads: 2, warmStart: false, memoryLimitBytes: limit });
  const cols = Array.from({ length: T }, (_, t) => db.getCollection(tenantName(t)));
  let errors = 0;
  const before = db.stats();
  const r = await drive(cfg, async (t, q) => {
    try {
      await cols[t].query(q, { k: G.k });
    } catch {
      errors++;
    }
  }, () => {
    const s = db.stats();
    return { accounted: s.usedBytes, rss: s.process.rssBytes };
  });
  const after = db.stats();
  await db.close();
  const hits = after.hits - before.hits;
  const misses = after.misses - before.misses;
  return { engine: 'shoal t2', fraction, limit, ...r, hitRate: hits / (hits + misses), loads: after.loads - before.loads, errors, peakAccounted: Math.max(...r.samples.map((s) => s.accounted)), peakRssSampled: Math.max(...r.samples.map((s) => s.rss)), maxRss: process.resourceUsage().maxRSS * 1024, samples: thin(r.samples) };
}

async function runNaive(cfg) {
  const { create } = await import('../engines/naive-lru.mjs');
  const { T, dir, fraction, shoalAllBytes } = { ...cfg, ...cfg.sizes };
  const limit = Math.floor(fraction * shoalAllBytes); // the same limit shoal gets
  const lru = create({ files: files(dir, T), dim: DIM, maxSize: limit });
  const r = await drive(cfg, async (t, q) => {
    lru.get(t).searchKnn(Array.from(q), G.k);
    await new Promise(setImmediate); // let the other clients and the sampler run between queries
  }, () => ({ accounted: lru.accountedBytes(), rss: process.memoryUsage.rss() }));
  const { hits, misses, loads } = lru.stats;
  return { engine: 'naive-lru', fraction, limit, ...r, hitRate: hits / (hits + misses), loads, loadMsTotal: lru.stats.loadMs, errors: 0, peakAccounted: Math.max(...r.samples.map((s) => s.accounted)), peakRssSampled: Math.max(...r.samples.map((s) => s.rss)), maxRss: process.resourceUsage().maxRSS * 1024, samples: thin(r.samples) };
}

export function report(results) {
  const build = results.find((r) => r.kind === 'build');
  const runs = results.filter((r) => r.kind === 'run');
  const md = ['## 2. Many tenants under a budget', ''];
  const c = runs[0]?.cfg ?? {};
  md.push(`${c.T} tenants × ${fmt(c.N)} vectors (128-d Gaussian mixture each; M=${G.M}, efConstruction=${G.efConstruction}), ${G.clients} closed-loop clients, ${fmt(c.Q)} single queries (k=${G.k}) from one Zipf(${G.zipfS}) sequence after ${fmt(c.W)} warm-up queries. Both engines get the same limit: a fraction of the whole set's ${mib(build?.shoalAllBytes ?? 0)} MiB (shoal's exact stats().usedBytes with every tenant resident; hnswlib-node holds the same hnswlib structures). The naive baseline counts each index by its file size, as lru-cache users do (${mib(build?.naiveAllBytes ?? 0)} MiB for the whole set by that estimate), so its real memory (RSS) is what shows whether it kept to the limit. The naive baseline runs every search and every readIndexSync on the main thread, yielding with setImmediate between queries; shoal runs its 2 pool threads. Latency = from a client's call to its answer. Peak RSS = the process's max RSS (getrusage).`, '');
  md.push(...table(['engine', 'budget', 'limit MiB', 'QPS', 'p50 ms', 'p99 ms', 'hit rate', 'loads', 'peak accounted MiB', 'peak RSS MiB', 'peak RSS / limit', 'event-loop p99 ms'], runs.map((r) => [r.engine, `${r.fraction * 100} %`, mib(r.limit), fmt(r.qps), fmt(r.latencyMs.p50, 2), fmt(r.latencyMs.p99, 2), `${fmt(r.hitRate * 100, 1)} %`, fmt(r.loads), mib(r.peakAccounted), mib(r.maxRss), `${fmt(r.maxRss / r.limit, 2)}×`, fmt(r.eventLoopP99Ms, 1)])));
  md.push('');
  const ratios = [];
  for (const f of BUDGETS) {
    const s = runs.find((r) => r.fraction === f && r.engine !== 'naive-lru');
    const n = runs.find((r) => r.fraction === f && r.engine === 'naive-lru');
    if (s && n) ratios.push([`${f * 100} %`, ratio(s.qps, n.qps), ratio(n.latencyMs.p99, s.latencyMs.p99), `${fmt(n.maxRss / n.limit, 2)}× vs shoal ${fmt(s.maxRss / s.limit, 2)}×`, `${mib(n.peakRssSampled - n.limit)} MiB over`]);
  }
  md.push('Shoal ÷ naive:', '', ...table(['budget', 'throughput', 'p99 latency (naive ÷ shoal)', 'peak RSS / limit', 'naive sampled RSS above its limit'], ratios, ['l', 'r', 'r', 'l', 'r']), '');
  const charts = [];
  for (const f of BUDGETS) {
    const rs = runs.filter((r) => r.fraction === f);
    if (!rs.length) continue;
    const file = `tenants-memory-${f * 100}.svg`;
    const series = rs.flatMap((r) => [
      { name: `${r.engine} RSS`, points: r.samples.map((s) => [s.t, s.rss / 2 ** 20]) },
      { name: `${r.engine} accounted`, dashed: true, points: r.samples.map((s) => [s.t, s.accounted / 2 ** 20]) },
    ]);
    charts.push({ file, svg: lineChart({ title: `Memory over time, budget ${f * 100} %`, xLabel: 'seconds into the run', yLabel: 'MiB', series, markers: false, hlines: rs.map((r, i) => ({ y: r.limit / 2 ** 20, label: `${r.engine} limit`, color: i ? '#d62728' : '#1f77b4' })) }) });
    md.push(`![memory over time, ${f * 100} %](${file})`, '');
  }
  const file = 'tenants-latency.svg';
  charts.push({ file, svg: lineChart({ title: 'Query latency distribution', xLabel: 'percentile', yLabel: 'latency ms', logY: true, series: runs.map((r) => ({ name: `${r.engine} ${r.fraction * 100} %`, points: r.latencyCdf.filter(([, v]) => v > 0) })) }) });
  md.push(`![latency distribution](${file})`, '');
  return { md, charts };
}

export const cleanup = ({ tmp }) => rmSync(join(tmp, 'tenants'), { recursive: true, force: true });


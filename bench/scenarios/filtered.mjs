/**
 * Scenario "filtered": metadata filters inside the search. On siftsmall and gauss100k, each
 * record gets 4 small metadata fields; `r` is a rank spread evenly over [0, 1) in a random
 * order unrelated to the vectors, so `{ r: { $lt: s } }` matches exactly a fraction s of the
 * records. For each selectivity s (1, 2, 10, 26, 50, 90 %): recall@10 against a brute force
 * over the matching records only, whether every result matches, and QPS, against the same
 * queries unfiltered (one col.query call with every query, like the recall scenario). Also the
 * ingest time with and without the metadata (best of alternating runs on siftsmall).
 */
import { loadDataset } from '../lib/datasets.mjs';
import { GRAPH, fmt, now, ratio, table } from '../lib/common.mjs';
import { lineChart } from '../lib/svg.mjs';
import { mulberry32 } from '../lib/rng.mjs';

const K = 10;
const EF = 64;
const SELECTIVITIES = [0.01, 0.02, 0.1, 0.26, 0.5, 0.9];

export async function run(ctx) {
  const datasets = ctx.smoke ? ['sift1k'] : ['siftsmall', 'gauss100k'];
  const tasks = datasets.map((dataset) => ({
    label: `filtered on ${dataset}`,
    cfg: { dataset, threads: 2, maxQueries: ctx.smoke ? 20 : dataset === 'gauss100k' ? 300 : 100, minQueries: ctx.smoke ? 20 : 1000, ingestRuns: ctx.smoke ? 1 : dataset === 'siftsmall' ? 3 : 1 },
  }));
  return { rows: await ctx.runTasks(tasks) };
}

/** Record i's metadata: 4 small fields; `r` its rank in a seeded shuffle, over n. */
function metadatas(n) {
  const rand = mulberry32(7);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.map((rank, i) => ({ r: rank / n, genre: `g${i % 12}`, tags: [`t${i % 5}`, `u${i % 3}`], live: i % 2 === 0 }));
}

/** Ids of the k nearest matching rows per query (squared L2), nq x k. */
function filteredTruth(base, queries, dim, matches) {
  const n = base.length / dim;
  const nq = queries.length / dim;
  const out = [];
  const rows = [];
  for (let i = 0; i < n; i++) if (matches(i)) rows.push(i);
  for (let q = 0; q < nq; q++) {
    const best = [];
    for (const i of rows) {
      let d = 0;
      for (let j = 0, a = i * dim, b = q * dim; j < dim; j++) {
        const x = base[a + j] - queries[b + j];
        d += x * x;
      }
      if (best.length < K || d < best[best.length - 1][0]) {
        best.push([d, i]);
        best.sort((x, y) => x[0] - y[0]);
        if (best.length > K) best.pop();
      }
    }
    out.push(best.map((b) => b[1]));
  }
  return { truth: out, matching: rows.length };
}

async function ingest(Shoal, ds, threads, metas) {
  const db = await Shoal.open({ threads, warmStart: false });
  const col = await db.createCollection('c', { dim: ds.dim, shards: 1, ...GRAPH });
  const n = ds.base.length / ds.dim;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  let next = 0;
  const sender = async () => {
    while (next < n) {
      const from = next;
      next = Math.min(n, from + 1000);
      const ids = Array.from({ length: next - from }, (_, j) => String(from + j));
      await col.add(ids, ds.base.subarray(from * ds.dim, next * ds.dim), metas === null ? undefined : metas.slice(from, next));
    }
  };
  await Promise.all(Array.from({ length: 2 * threads }, sender));
  const cpu = process.cpuUsage(cpu0);
  return { db, col, seconds: (now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

export async function child({ dataset, threads, maxQueries, minQueries, ingestRuns }) {
  const { Shoal } = await import('../engines/shoal.mjs');
  const ds = loadDataset(dataset);
  const { dim } = ds;
  const n = ds.base.length / dim;
  const nq = Math.min(maxQueries, ds.queries.length / dim);
  const queries = ds.queries.subarray(0, nq * dim);
  const metas = metadatas(n);

  // Ingest with and without metadata, alternating; the best run of each.
  const plain = [];
  const withMeta = [];
  const plainCpu = [];
  const withMetaCpu = [];
  let built = null;
  for (let r = 0; r < ingestRuns; r++) {
    const a = await ingest(Shoal, ds, threads, null);
    plain.push(a.seconds);
    plainCpu.push(a.cpuSeconds);
    await a.db.close();
    const b = await ingest(Shoal, ds, threads, metas);
    withMeta.push(b.seconds);
    withMetaCpu.push(b.cpuSeconds);
    if (r < ingestRuns - 1) await b.db.close();
    else built = b;
  }
  const { db, col } = built;
  const stats = db.stats();
  const metadataBytes = col.stats().shardDetails.reduce((s, x) => s + x.metadataBytes, 0);

  const rounds = Math.max(1, Math.ceil(minQueries / nq));
  const timed = async (options) => {
    let res = await col.query(queries, options); // warm-up
    let min = Infinity;
    for (let p = 0; p < 2; p++) {
      const t0 = now();
      for (let r = 0; r < rounds; r++) res = await col.query(queries, options);
      min = Math.min(min, (now() - t0) / 1000);
    }
    return { res, qps: (rounds * nq) / min };
  };
  const recallOf = (res, truth) => {
    let hit = 0;
    let want = 0;
    res.forEach((r, q) => {
      const t = new Set(truth[q].map(String));
      want += truth[q].length;
      for (const id of r.ids) if (t.has(id)) hit++;
    });
    return want === 0 ? 1 : hit / want;
  };

  const unfiltered = await timed({ k: K, ef: EF });
  const all = filteredTruth(ds.base, queries, dim, () => true);
  const rows = [{ selectivity: 1, filter: 'none', qps: unfiltered.qps, recall: recallOf(unfiltered.res, all.truth), allMatch: true, short: 0, matching: n }];
  for (const s of SELECTIVITIES) {
    const where = { r: { $lt: s } };
    const { truth, matching } = filteredTruth(ds.base, queries, dim, (i) => metas[i].r < s);
    const { res, qps } = await timed({ k: K, ef: EF, where });
    const allMatch = res.every((r) => r.ids.every((id) => metas[Number(id)].r < s));
    // Results short of k although at least k records match.
    const short = res.filter((r) => r.ids.length < Math.min(K, matching)).length;
    rows.push({ selectivity: s, filter: JSON.stringify(where), qps, recall: recallOf(res, truth), allMatch, short, matching });
  }
  await db.close();
  return {
    dataset, n, nq, threads, ef: EF,
    ingest: {
      plainSeconds: Math.min(...plain), metadataSeconds: Math.min(...withMeta), plainRuns: plain, metadataRuns: withMeta,
      // CPU seconds of the whole process (every thread): less disturbed by other load than wall time.
      plainCpuSeconds: Math.min(...plainCpu), metadataCpuSeconds: Math.min(...withMetaCpu),
    },
    metadataBytesPerRecord: metadataBytes / n,
    usedBytes: stats.usedBytes,
    rows,
  };
}

export function report(data) {
  const results = data.rows.filter((r) => !r.error);
  const md = [];
  md.push(`k=${K}, ef=${EF}, M=${GRAPH.M}, efConstruction=${GRAPH.efConstruction}; filter \`{ r: { $lt: s } }\` on a rank uncorrelated with the vectors; recall against a brute force over the matching records; QPS of one col.query call with every query, best of 2 passes.`, '');
  const charts = [];
  for (const r of results) {
    md.push(`### ${r.dataset} (n=${fmt(r.n)}, ${r.nq} queries, ${r.threads} threads)`, '');
    const base = r.rows[0].qps;
    md.push(...table(['selectivity', 'matching', 'recall@10', 'every result matches', 'short of k', 'QPS', 'QPS ÷ unfiltered'], r.rows.map((x) => [x.filter === 'none' ? 'unfiltered' : `${fmt(100 * x.selectivity, 0)} %`, fmt(x.matching), fmt(x.recall, 3), x.allMatch ? 'yes' : '**no**', String(x.short), fmt(x.qps), ratio(x.qps, base)])));
    md.push('');
    const pct = (a, b) => `${a > b ? '+' : ''}${fmt(100 * (a / b - 1), 1)} %`;
    md.push(
      `Ingest (best of ${r.ingest.plainRuns.length}): ${fmt(r.ingest.plainSeconds, 2)} s without metadata, ${fmt(r.ingest.metadataSeconds, 2)} s with 4 fields per record (${pct(r.ingest.metadataSeconds, r.ingest.plainSeconds)}); ` +
        `CPU time ${fmt(r.ingest.plainCpuSeconds, 2)} s against ${fmt(r.ingest.metadataCpuSeconds, 2)} s (${pct(r.ingest.metadataCpuSeconds, r.ingest.plainCpuSeconds)}); metadata ${fmt(r.metadataBytesPerRecord, 1)} accounted bytes per record.`,
      '',
    );
    const file = `filtered-${r.dataset}.svg`;
    charts.push({ file, svg: lineChart({ title: `Filtered QPS ÷ unfiltered — ${r.dataset}`, xLabel: 'selectivity', yLabel: 'QPS ratio', series: [{ name: 'shoal', points: r.rows.slice(1).map((x) => [x.selectivity, x.qps / base]) }] }) });
    md.push(`![filtered QPS ratio, ${r.dataset}](${file})`, '');
  }
  return { md, charts };
}

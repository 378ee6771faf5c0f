/**
 * Scenario "scaling": the three engines at 1, 2 and all threads (or `--threads=1,4,16`), each at
 * its best on the same data: ingest into one index (shoal: one collection of one shard, batches
 * with 2 x threads calls in flight; usearch: one add() with `threads`; hnswlib-node: its addPoint
 * loop, single-threaded), batched search over an ef ladder with recall@10 (shoal: one col.query
 * of every query; usearch: one search() with `threads`; hnswlib-node: one searchKnn per query,
 * as its users call it), and shoal's single queries with 256 calls in flight. One child per
 * engine and thread count; `--engines=shoal,usearch` runs only those. Data: siftsmall (--full:
 * gauss100k; --smoke: sift1k; --dataset=NAME,
 * e.g. gauss20k784 for 784-d).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

import { fmt, now, ratio, table } from '../lib/common.mjs';
import { loadDataset } from '../lib/datasets.mjs';

const K = 10;
const GRAPH = { M: 16, efConstruction: 200 };
const EFS = [32, 64, 128];
const SINGLES_IN_FLIGHT = 256;
const ENGINES = ['shoal', 'usearch', 'hnswlib-node'];

export async function run(ctx) {
  const dataset = typeof ctx.opts?.dataset === 'string' ? ctx.opts.dataset : ctx.smoke ? 'sift1k' : ctx.full ? 'gauss100k' : 'siftsmall';
  loadDataset(dataset);
  const asked = typeof ctx.opts?.threads === 'string' ? ctx.opts.threads.split(',').map(Number) : [1, 2, availableParallelism()];
  const threads = [...new Set(asked)].filter((t) => Number.isInteger(t) && t > 0).sort((a, b) => a - b);
  const seconds = ctx.smoke ? 0.2 : ctx.quick ? 0.5 : 1.5;
  const engines = typeof ctx.opts?.engines === 'string' ? ctx.opts.engines.split(',') : ENGINES;
  const unknown = engines.filter((e) => !ENGINES.includes(e));
  if (unknown.length > 0) throw new Error(`--engines: unknown ${unknown.join(', ')}; expected some of ${ENGINES.join(', ')}`);
  const tasks = [];
  for (const t of threads) {
    for (const engine of ['shoal', 'usearch']) {
      if (engines.includes(engine)) tasks.push({ label: `${engine} t${t}`, cfg: { engine, dataset, threads: t, seconds } });
    }
  }
  // hnswlib-node has no threads of its own: it runs once, as its users call it.
  if (engines.includes('hnswlib-node')) tasks.push({ label: 'hnswlib-node t1', cfg: { engine: 'hnswlib-node', dataset, threads: 1, seconds } });
  return { dataset, threads, rows: await ctx.runTasks(tasks) };
}

function recallOf(labels, truth, nq) {
  let hits = 0;
  for (let q = 0; q < nq; q++) {
    const want = new Set(Array.from(truth.subarray(q * K, (q + 1) * K)));
    for (let j = 0; j < K; j++) if (want.has(Number(labels[q * K + j]))) hits++;
  }
  return hits / (nq * K);
}

/** Repeats `pass` (which answers nq queries) for `seconds`; returns queries per second. */
async function rate(pass, nq, seconds) {
  await pass(); // warm-up
  let done = 0;
  const t0 = now();
  while (now() - t0 < seconds * 1000 || done === 0) {
    await pass();
    done += nq;
  }
  return done / ((now() - t0) / 1000);
}

export async function child({ engine, dataset, threads, seconds }) {
  const ds = loadDataset(dataset);
  const { dim } = ds;
  const n = ds.base.length / dim;
  const nq = ds.queries.length / dim;
  const search = [];
  let ingest;
  let singles = null;
  if (engine === 'shoal') {
    const shoal = await import('../engines/shoal.mjs');
    const t0 = now();
    const e = await shoal.build({ dim, base: ds.base, ...GRAPH, threads });
    ingest = n / ((now() - t0) / 1000);
    for (const ef of EFS) {
      const labels = await e.searchAll(ds.queries, K, ef);
      search.push({ ef, recall: recallOf(labels, ds.truth, nq), qps: await rate(() => e.searchAll(ds.queries, K, ef), nq, seconds) });
    }
    const rows = Array.from({ length: nq }, (_, i) => ds.queries.subarray(i * dim, (i + 1) * dim));
    let next = 0;
    let done = 0;
    const t1 = now();
    const end = t1 + seconds * 1000;
    const lane = async () => {
      while (now() < end) {
        await e.searchOne(rows[next++ % nq], K, 64);
        done++;
      }
    };
    await Promise.all(Array.from({ length: SINGLES_IN_FLIGHT }, lane));
    singles = { inFlight: SINGLES_IN_FLIGHT, ef: 64, qps: done / ((now() - t1) / 1000) };
    await e.close();
  } else if (engine === 'usearch') {
    const usearch = await import('../engines/usearch.mjs');
    const t0 = now();
    const e = usearch.build({ dim, base: ds.base, ...GRAPH, threads });
    ingest = n / ((now() - t0) / 1000);
    const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-scaling-'));
    try {
      const path = join(dir, 'index.usearch');
      e.save(path);
      for (const ef of EFS) {
        const index = e.withEf(path, ef);
        const labels = index.searchMany(ds.queries, K, threads).keys;
        search.push({ ef, recall: recallOf(labels, ds.truth, nq), qps: await rate(async () => index.searchMany(ds.queries, K, threads), nq, seconds) });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    const hnsw = await import('../engines/hnswlib-node.mjs');
    const t0 = now();
    const e = hnsw.build({ dim, base: ds.base, ...GRAPH });
    ingest = n / ((now() - t0) / 1000);
    const qs = e.prepare(ds.queries);
    for (const ef of EFS) {
      e.setEf(ef);
      const labels = new Uint32Array(nq * K);
      qs.forEach((q, i) => e.searchOne(q, K).forEach((l, j) => (labels[i * K + j] = l)));
      search.push({ ef, recall: recallOf(labels, ds.truth, nq), qps: await rate(async () => qs.forEach((q) => e.searchOne(q, K)), nq, seconds) });
    }
  }
  return { engine, dataset, n, nq, dim, threads, ingest, search, singles };
}

export function report(data) {
  const rows = data.rows.filter((r) => !r.error);
  const md = [];
  const first = rows[0];
  if (first !== undefined) {
    md.push(
      `${fmt(first.n)} × ${first.dim}-d (${first.dataset}), M=${GRAPH.M}, efConstruction=${GRAPH.efConstruction}, k=${K}. Each engine at its best: shoal batched \`col.query\` and one shard; usearch one \`search\`/\`add\` call with \`threads\`; hnswlib-node one \`searchKnn\` per query and its \`addPoint\` loop (single-threaded).`,
      '',
    );
  }
  const one = (engine) => rows.find((r) => r.engine === engine && r.threads === 1);
  md.push(
    ...table(
      ['engine', 'threads', 'ingest vec/s (× 1 thread)', ...EFS.map((ef) => `ef ${ef} QPS (recall) × 1 thread`), `shoal ${SINGLES_IN_FLIGHT} singles in flight ÷ batched ef 64`],
      rows.map((r) => [
        r.engine,
        String(r.threads),
        `${fmt(r.ingest)} (${ratio(r.ingest, one(r.engine)?.ingest)})`,
        ...r.search.map((s, i) => `${fmt(s.qps)} (${fmt(s.recall, 3)}) ${ratio(s.qps, one(r.engine)?.search[i]?.qps)}`),
        r.singles === null ? '—' : ratio(r.singles.qps, r.search.find((s) => s.ef === 64)?.qps),
      ]),
    ),
  );
  md.push('');
  const shoal = rows.filter((r) => r.engine === 'shoal');
  md.push(
    ...table(
      ['threads', ...EFS.map((ef) => `shoal ÷ usearch, ef ${ef} (recall)`), 'ingest shoal ÷ usearch'],
      shoal.map((s) => {
        const u = rows.find((r) => r.engine === 'usearch' && r.threads === s.threads);
        return [
          String(s.threads),
          ...s.search.map((x, i) => `${ratio(x.qps, u?.search[i]?.qps)} (${fmt(x.recall, 3)} / ${fmt(u?.search[i]?.recall, 3)})`),
          ratio(s.ingest, u?.ingest),
        ];
      }),
    ),
  );
  md.push('');
  return { md, charts: [] };
}

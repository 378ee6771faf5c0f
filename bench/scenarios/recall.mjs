/**
 * Scenario "recall": recall@10 against QPS across ef, build time and bytes per vector, on siftsmall
 * and the 100k x 128 Gaussian mixture (gauss100k), for shoal t1/t2,
 * hnswlib-node and usearch. Each (contender, dataset) runs in its own child.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../lib/datasets.mjs';
import { recallAtK } from '../lib/stats.mjs';
import { GRAPH, fmt, now, ratio, settledRss, table } from '../lib/common.mjs';
import { lineChart } from '../lib/svg.mjs';

const K = 10;
const CONTENDERS = ['shoal:1', 'shoal:2', 'hnswlib-node', 'usearch'];
const label = (c) => (c.startsWith('shoal:') ? `shoal t${c.slice(6)}` : c);

export async function run(ctx) {
  return { rows: await ctx.runTasks(tasks(ctx)) };
}

function tasks({ smoke, full }) {
  const datasets = smoke ? ['tiny'] : ['siftsmall', 'gauss100k'];
  const efs = smoke ? [16, 64] : [16, 32, 64, 128, 256];
  return datasets.flatMap((dataset) => CONTENDERS.map((contender) => ({ label: `${label(contender)} on ${dataset}`, cfg: { contender, dataset, efs, minQueries: smoke ? 50 : 1000, passes: smoke ? 1 : 2 } })));
}

function dataset(name) {
  if (name !== 'tiny') return loadDataset(name);
  const ds = loadDataset('gauss20k');
  const n = 1000;
  const nq = 20;
  const base = ds.base.subarray(0, n * ds.dim);
  const queries = ds.queries.subarray(0, nq * ds.dim);
  return { name, dim: ds.dim, base, queries, truth: null, k: K };
}

export async function child({ contender, dataset: dsName, efs, minQueries, passes }) {
  const ds = dataset(dsName);
  const { dim } = ds;
  const n = ds.base.length / dim;
  const nq = ds.queries.length / dim;
  if (!ds.truth) ds.truth = (await import('../lib/groundtruth.mjs')).bruteForceTopK(ds.base, ds.queries, dim, K);
  const rounds = Math.ceil(minQueries / nq);
  const rss0 = settledRss().rss;
  const tmp = mkdtempSync(join(os.tmpdir(), 'shoal-bench-recall-'));
  const rows = [];
  let buildSeconds;
  let bytes;
  let fileBytes = null;
  const best = async (fn) => {
    let min = Infinity;
    for (let p = 0; p < passes; p++) {
      const a = now();
      await fn();
      min = Math.min(min, (now() - a) / 1000);
    }
    return min;
  };
  try {
    if (contender.startsWith('shoal:')) {
      const threads = Number(contender.slice(6));
      const { build } = await import('../engines/shoal.mjs');
      const t0 = now();
      const e = await build({ dim, base: ds.base, ...GRAPH, threads });
      buildSeconds = (now() - t0) / 1000;
      const b = e.bytes();
      bytes = { accounted: b.accounted, native: b.native, rssDelta: settledRss().rss - rss0 };
      await e.searchAll(ds.queries, K, 64); // JIT and pool warm-up
      for (const ef of efs) {
        let found = await e.searchAll(ds.queries, K, ef);
        const s = await best(async () => {
          for (let r = 0; r < rounds; r++) found = await e.searchAll(ds.queries, K, ef);
        });
        rows.push({ ef, qps: (rounds * nq) / s, recall: recallAtK(found, ds.truth, nq, K) });
      }
      await e.close();
    } else if (contender === 'hnswlib-node') {
      const { build } = await import('../engines/hnswlib-node.mjs');
      const t0 = now();
      const e = build({ dim, base: ds.base, ...GRAPH });
      buildSeconds = (now() - t0) / 1000;
      bytes = { rssDelta: settledRss().rss - rss0 };
      e.save(join(tmp, 'i.bin'));
      fileBytes = statSync(join(tmp, 'i.bin')).size;
      const qs = e.prepare(ds.queries);
      const found = new Uint32Array(nq * K);
      for (const ef of efs) {
        e.setEf(ef);
        for (let i = 0; i < Math.min(nq, 100); i++) e.searchOne(qs[i], K);
        const s = await best(() => {
          for (let r = 0; r < rounds; r++) for (let q = 0; q < nq; q++) found.set(e.searchOne(qs[q], K), q * K);
        });
        rows.push({ ef, qps: (rounds * nq) / s, recall: recallAtK(found, ds.truth, nq, K) });
      }
    } else if (contender === 'usearch') {
      const us = await import('../engines/usearch.mjs');
      const t0 = now();
      const e = us.build({ dim, base: ds.base, ...GRAPH });
      buildSeconds = (now() - t0) / 1000;
      bytes = { rssDelta: settledRss().rss - rss0 };
      const file = join(tmp, 'u.usearch');
      e.save(file);
      fileBytes = statSync(file).size;
      const qs = Array.from({ length: nq }, (_, i) => ds.queries.subarray(i * dim, (i + 1) * dim));
      const found = new Uint32Array(nq * K);
      const keysInto = (keys, at) => {
        for (let j = 0; j < K; j++) found[at + j] = Number(keys[j]);
      };
      for (const ef of efs) {
        const x = e.withEf(file, ef);
        // At its best: every query in one search call spread over us.CORES threads (QPS, recall).
        x.searchMany(ds.queries, K);
        const s = await best(() => {
          for (let r = 0; r < rounds; r++) {
            const res = x.searchMany(ds.queries, K);
            for (let q = 0; q < nq; q++) keysInto(res.keys.subarray(q * K, (q + 1) * K), q * K);
          }
        });
        const row = { ef, qps: (rounds * nq) / s, recall: recallAtK(found, ds.truth, nq, K), threads: us.CORES };
        // One query per call on one thread, as a server handling single requests calls it.
        for (let i = 0; i < Math.min(nq, 100); i++) x.searchOne(qs[i], K);
        const s1 = await best(() => {
          for (let r = 0; r < rounds; r++) for (let q = 0; q < nq; q++) keysInto(x.searchOne(qs[q], K), q * K);
        });
        rows.push({ ...row, qpsSingle: (rounds * nq) / s1, recallSingle: recallAtK(found, ds.truth, nq, K) });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { contender: label(contender), dataset: dsName, n, nq, buildSeconds, bytes, bytesPerVector: (bytes.native ?? bytes.rssDelta) / n, rssDeltaPerVector: bytes.rssDelta / n, fileBytesPerVector: fileBytes ? fileBytes / n : null, rows, maxRssKiB: process.resourceUsage().maxRSS };
}

/** QPS of `peer` at `recall`, linearly interpolated between the ladder points that bracket it. */
function qpsAtRecall(rows, recall) {
  const s = [...rows].sort((a, b) => a.recall - b.recall);
  for (let i = 1; i < s.length; i++) {
    if (s[i - 1].recall <= recall && recall <= s[i].recall) {
      const f = s[i].recall === s[i - 1].recall ? 0 : (recall - s[i - 1].recall) / (s[i].recall - s[i - 1].recall);
      return s[i - 1].qps + f * (s[i].qps - s[i - 1].qps);
    }
  }
  return null;
}

/** How usearch was searched: files from before the runner merge measured it one query per call. */
function usearchMode(results) {
  const batched = results.some((r) => r.contender === 'usearch' && r.rows.some((x) => x.threads));
  return batched
    ? "hnswlib-node: one query per synchronous call on the main thread; usearch at its best: every query in one synchronous `search` call with `threads` = the machine's cores (its one-query-per-call, `threads=1` QPS is in the JSON as qpsSingle); its build uses `threads=0` = all cores, its default."
    : 'hnswlib-node and usearch: one query per synchronous call on the main thread (usearch `threads=1`; its build uses `threads=0` = all cores, its default).';
}

export function report(data) {
  const results = data.rows.filter((r) => !r.error);
  const md = [];
  md.push(`M=${GRAPH.M}, efConstruction=${GRAPH.efConstruction}, k=${K}. shoal: one \`col.query\` call with every query (spread over its pool threads), best of the passes; ${usearchMode(results)} usearch is reloaded into a new \`Index\` per ef (expansion_search is fixed at construction). Bytes/vector: shoal = exact native + id-table bytes; peers = RSS growth over the build (after GC) — no byte counter exists.`, '');
  const charts = [];
  for (const ds of [...new Set(results.map((r) => r.dataset))]) {
    const rs = results.filter((r) => r.dataset === ds);
    md.push(`### ${ds} (n=${fmt(rs[0].n)}, ${rs[0].nq} queries)`, '');
    md.push(...table(['contender', 'build s', 'bytes/vector', 'RSS Δ/vector', 'file bytes/vector', ...rs[0].rows.map((r) => `ef ${r.ef}: QPS (recall)`)], rs.map((r) => [r.contender, fmt(r.buildSeconds, 2), fmt(r.bytesPerVector, 0), fmt(r.rssDeltaPerVector, 0), fmt(r.fileBytesPerVector, 0), ...r.rows.map((x) => `${fmt(x.qps)} (${fmt(x.recall, 3)})`)])));
    md.push('');
    const peers = rs.filter((r) => !r.contender.startsWith('shoal'));
    const shoals = rs.filter((r) => r.contender.startsWith('shoal'));
    const ratioRows = [];
    for (const s of shoals) for (const p of peers) {
      const eq = s.rows.map((row) => {
        const q = qpsAtRecall(p.rows, row.recall);
        return q ? `ef ${row.ef}: ${ratio(row.qps, q)}` : `ef ${row.ef}: —`;
      });
      ratioRows.push([`${s.contender} / ${p.contender}`, ratio(p.buildSeconds, s.buildSeconds), eq.join('; ')]);
    }
    md.push('Ratios (shoal ÷ peer; QPS at equal recall by interpolating the peer\'s curve; "—" = outside the peer\'s ladder):', '');
    md.push(...table(['pair', 'build speed', 'QPS at equal recall'], ratioRows, ['l', 'r', 'l']), '');
    const file = `recall-${ds}.svg`;
    charts.push({ file, svg: lineChart({ title: `Recall@10 vs QPS — ${ds}`, xLabel: 'recall@10', yLabel: 'queries / s', logY: true, series: rs.map((r) => ({ name: r.contender, points: r.rows.map((x) => [x.recall, x.qps]) })) }) });
    md.push(`![recall vs QPS, ${ds}](${file})`, '');
  }
  return { md, charts };
}

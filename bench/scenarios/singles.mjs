/**
 * Scenario "singles": what an HTTP service sends, one query vector per `col.query` call with
 * many calls in flight, against the same queries in one batched call, on one collection (one
 * shard) at the same k and ef. Reports QPS per number in flight and its ratio to batched, with
 * recall@10 of both. One child per thread count.
 * Data: siftsmall (--smoke: its first 1,000; --full: gauss100k).
 */
import { availableParallelism } from 'node:os';

import { loadDataset } from '../lib/datasets.mjs';
import { fmt, now, ratio, table } from '../lib/common.mjs';

const K = 10;
const EF = 64;
const GRAPH = { M: 16, efConstruction: 200 };

export async function run(ctx) {
  const dataset = ctx.smoke ? 'sift1k' : ctx.full ? 'gauss100k' : 'siftsmall';
  loadDataset(dataset); // generate and cache before anything is timed
  const threads = [...new Set([1, 2, availableParallelism()])];
  const inFlight = ctx.smoke ? [1, 8] : [1, 8, 64, 256];
  const seconds = ctx.smoke ? 0.3 : ctx.quick ? 1 : 3;
  return { rows: await ctx.runTasks(threads.map((t) => ({ label: `shoal t${t}`, cfg: { dataset, threads: t, inFlight, seconds } }))) };
}

export async function child({ dataset, threads, inFlight, seconds }) {
  const { Shoal } = await import('../../dist/index.js');
  const ds = loadDataset(dataset);
  const n = ds.base.length / ds.dim;
  const nq = ds.queries.length / ds.dim;
  const db = await Shoal.open({ threads });
  try {
    const col = await db.createCollection('c', { dim: ds.dim, ...GRAPH });
    const ids = Array.from({ length: n }, (_, i) => String(i));
    for (let i = 0; i < n; i += 5000) await col.add(ids.slice(i, i + 5000), ds.base.subarray(i * ds.dim, Math.min(n, i + 5000) * ds.dim));
    const rows = Array.from({ length: nq }, (_, i) => ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim));
    const recall = (results) => {
      let hits = 0;
      results.forEach((r, q) => {
        const truth = new Set(Array.from(ds.truth.subarray(q * K, (q + 1) * K)));
        for (const id of r.ids) if (truth.has(Number(id))) hits++;
      });
      return hits / (nq * K);
    };
    // Batched: every query in one call, repeated for `seconds`, after a warm-up.
    await col.query(ds.queries, { k: K, ef: EF });
    let batchedQueries = 0;
    let batchedResults = [];
    const b0 = now();
    while (now() - b0 < seconds * 1000 || batchedQueries === 0) {
      batchedResults = await col.query(ds.queries, { k: K, ef: EF });
      batchedQueries += nq;
    }
    const batchedQps = batchedQueries / ((now() - b0) / 1000);
    const singles = [];
    for (const lanes of inFlight) {
      let next = 0;
      let done = 0;
      const results = new Array(nq);
      const t0 = now();
      const end = t0 + seconds * 1000;
      const lane = async () => {
        while (now() < end) {
          const q = next++ % nq;
          const [r] = await col.query(rows[q], { k: K, ef: EF });
          results[q] = r;
          done++;
        }
      };
      await Promise.all(Array.from({ length: lanes }, lane));
      const qps = done / ((now() - t0) / 1000);
      const answered = results.filter((r) => r !== undefined);
      singles.push({ inFlight: lanes, qps, ratioToBatched: qps / batchedQps, recall: answered.length === nq ? recall(results) : null });
    }
    return { dataset, n, nq, dim: ds.dim, threads, k: K, ef: EF, batched: { qps: batchedQps, recall: recall(batchedResults) }, singles };
  } finally {
    await db.close();
  }
}

export function report(data) {
  const results = data.rows.filter((r) => !r.error);
  const md = [];
  const first = results[0];
  if (first !== undefined) {
    md.push(
      `One collection (1 shard) of ${fmt(first.n)} × ${first.dim}-d vectors (${first.dataset}), M=${GRAPH.M}, efConstruction=${GRAPH.efConstruction}, k=${K}, ef=${EF}. "Batched": all ${fmt(first.nq)} queries in one \`col.query\` call, repeated. "In flight N": N concurrent callers, each sending one query vector per call; concurrent calls are merged into batches while the pool is busy.`,
      '',
    );
  }
  const header = ['threads', 'batched QPS (recall)', ...(first?.singles ?? []).map((s) => `${s.inFlight} in flight`)];
  md.push(
    ...table(
      header,
      results.map((r) => [
        String(r.threads),
        `${fmt(r.batched.qps)} (${fmt(r.batched.recall, 3)})`,
        ...r.singles.map((s) => `${fmt(s.qps)} = ${ratio(s.qps, r.batched.qps)}`),
      ]),
    ),
  );
  md.push('');
  return { md, charts: [] };
}

/**
 * The search protocol, identical for every engine: for each ef, warm up, then time whole passes
 * over the query set and keep the best pass (the VM is noisy; the best pass is the least
 * disturbed one). Engines only supply the inner loops, so both are measured the same way.
 */
import { differingQueries, digest, recallAtK, secondsSync } from './stats.mjs';

/** Graph parameters for every engine, as in the peers' measurements (hnswlib-and-peers.md §3). */
export const GRAPH = { M: 16, efConstruction: 200 };
export const EFS = [16, 32, 64, 128, 256];
export const K = 10;
export const WARMUP_QUERIES = 100;
export const PASSES = 2;
// siftsmall has only 100 queries (~10 ms a pass): a pass repeats the query set until it holds at
// least this many queries, so one timer tick or GC pause cannot dominate it.
export const MIN_QUERIES_PER_PASS = 1000;

/**
 * run.single(ef, from, count, out): answers queries from..from+count-1 (modulo nq), one per call,
 *   writing query i's k labels to out[(i % nq) * k ...].
 * run.batch(ef) (optional): one call with all nq queries; returns nq x k labels.
 */
export function measureSearch(run, ds) {
  const nq = ds.queries.length / ds.dim;
  const rounds = Math.ceil(MIN_QUERIES_PER_PASS / nq);
  const rows = [];
  for (const ef of EFS) {
    const single = new Uint32Array(nq * K);
    run.single(ef, 0, WARMUP_QUERIES, single);
    const singleS = best(() => run.single(ef, 0, rounds * nq, single));
    // The digest lets the parent see whether two engines returned exactly the same answers.
    const row = { ef, qpsSingle: (rounds * nq) / singleS, recall: recallAtK(single, ds.truth, nq, K), answersDigest: digest(single) };
    if (run.batch) {
      let batch = run.batch(ef); // warm-up call, and the labels to check
      const batchS = best(() => {
        for (let r = 0; r < rounds; r++) batch = run.batch(ef);
      });
      row.qpsBatch = (rounds * nq) / batchS;
      row.recallBatch = recallAtK(batch, ds.truth, nq, K);
      // Same graph, same ef: one-by-one and batched answers must be identical.
      row.batchDiffersFromSingle = differingQueries(batch, single, nq, K);
    }
    rows.push(row);
  }
  return { queriesPerPass: rounds * nq, rows };
}

function best(fn) {
  let min = Infinity;
  for (let p = 0; p < PASSES; p++) min = Math.min(min, secondsSync(fn));
  return min;
}

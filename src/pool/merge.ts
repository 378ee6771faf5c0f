/**
 * Merging per-shard results into one top-k per query. Pure.
 * Each shard's output holds k (label, distance) pairs per query, nearest first, padded with
 * NO_LABEL / +Infinity; the merge keeps the k nearest over all shards, nearest first.
 */
import { NO_LABEL } from '../native/constants.js';

export interface ShardOutput {
  readonly labels: Uint32Array;
  readonly distances: Float32Array;
}

export interface Hit {
  readonly shard: number;
  readonly label: number;
  readonly distance: number;
}

export function mergeTopK(outputs: readonly (ShardOutput | null)[], query: number, k: number): Hit[] {
  const hits: Hit[] = [];
  mergeTopKEach(outputs, query, k, (shard, label, distance) => {
    hits.push({ shard, label, distance });
    return true;
  });
  return hits;
}

/**
 * The same merge, handing each hit to `take` (nearest first) instead of building objects: a
 * query with k = 10,000 would otherwise make 10,000 short-lived objects per row. `take`
 * returns whether the hit counted; the merge stops after k that did.
 */
export function mergeTopKEach(
  outputs: readonly (ShardOutput | null)[],
  query: number,
  k: number,
  take: (shard: number, label: number, distance: number) => boolean,
): void {
  const heads = outputs.map(() => 0);
  let taken = 0;
  while (taken < k) {
    let best = -1;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (let s = 0; s < outputs.length; s++) {
      const out = outputs[s];
      if (out === null || out === undefined) continue;
      const j = heads[s] as number;
      if (j >= k) continue;
      const label = out.labels[query * k + j] as number;
      if (label === NO_LABEL) continue;
      const d = out.distances[query * k + j] as number;
      if (best < 0 || d < bestDistance) {
        best = s;
        bestDistance = d;
      }
    }
    if (best < 0) break;
    const j = heads[best] as number;
    if (take(best, (outputs[best] as ShardOutput).labels[query * k + j] as number, bestDistance)) taken++;
    heads[best] = j + 1;
  }
}

/**
 * How to split a batch of `queries` over `shards` for `threads` workers: every shard gets the
 * same query ranges, and there are enough tasks to keep every thread busy, but no task gets
 * fewer than `minPerTask` queries (a task's round trip costs about as much as one search).
 */
export function planQueryRanges(queries: number, shards: number, threads: number, minPerTask = 16): [number, number][] {
  const wanted = Math.max(1, Math.ceil(threads / shards));
  const chunks = Math.max(1, Math.min(wanted, Math.floor(queries / minPerTask)));
  // Balanced: every range gets floor(q/c) queries and the first q % c one more.
  const base = Math.floor(queries / chunks);
  const extra = queries % chunks;
  const ranges: [number, number][] = [];
  let from = 0;
  for (let i = 0; i < chunks && from < queries; i++) {
    const count = base + (i < extra ? 1 : 0);
    ranges.push([from, count]);
    from += count;
  }
  return ranges;
}

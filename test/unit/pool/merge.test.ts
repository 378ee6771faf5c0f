// Merging per-shard top-k outputs, and splitting a query batch into ranges.
import { describe, expect, it } from 'vitest';

import { NO_LABEL } from '../../../src/native/binding.js';
import { mergeTopK, planQueryRanges, type Hit, type ShardOutput } from '../../../src/pool/merge.js';
import { rng } from '../../support/data.js';

/** One shard's output from per-query rows of (label, distance), nearest first; pads to k. */
function output(rows: readonly (readonly (readonly [number, number])[])[], k: number): ShardOutput {
  const labels = new Uint32Array(rows.length * k).fill(NO_LABEL);
  const distances = new Float32Array(rows.length * k).fill(Number.POSITIVE_INFINITY);
  rows.forEach((row, q) => {
    if (row.length > k) throw new Error('row longer than k');
    row.forEach(([label, distance], j) => {
      labels[q * k + j] = label;
      distances[q * k + j] = distance;
    });
  });
  return { labels, distances };
}

/** Reference: the union of every non-null shard's real results, stably sorted by distance. */
function reference(outputs: readonly (ShardOutput | null)[], query: number, k: number): Hit[] {
  const all: Hit[] = [];
  outputs.forEach((out, shard) => {
    if (out === null) return;
    for (let j = 0; j < k; j++) {
      const label = out.labels[query * k + j] as number;
      if (label === NO_LABEL) break;
      all.push({ shard, label, distance: out.distances[query * k + j] as number });
    }
  });
  // Array.prototype.sort is stable: equal distances keep shard order, then rank order.
  return all.sort((a, b) => a.distance - b.distance).slice(0, k);
}

/** Random sorted rows for `queries` queries with 0..k results each; `ties` draws few distinct distances. */
function randomOutput(next: () => number, queries: number, k: number, ties: boolean, full: boolean): ShardOutput {
  const rows: [number, number][][] = [];
  for (let q = 0; q < queries; q++) {
    const n = full ? k : Math.floor(next() * (k + 1));
    const row: [number, number][] = [];
    const used = new Set<number>();
    for (let j = 0; j < n; j++) {
      let label: number;
      do label = Math.floor(next() * 100_000);
      while (used.has(label));
      used.add(label);
      row.push([label, ties ? Math.floor(next() * 4) : Math.fround(next() * 10 - 2)]);
    }
    row.sort((a, b) => a[1] - b[1]);
    rows.push(row);
  }
  return output(rows, k);
}

describe('mergeTopK', () => {
  const cases: { shards: number; k: number; ties: boolean; full: boolean; seed: number }[] = [];
  let seed = 1;
  for (const shards of [1, 2, 3, 4]) {
    for (const k of [1, 2, 5, 10, 32]) {
      for (const ties of [false, true]) {
        for (const full of [true, false]) cases.push({ shards, k, ties, full, seed: seed++ });
      }
    }
  }

  it.each(cases)(
    'equals sorting the union and taking k for $shards shard(s), k=$k, ties=$ties, full=$full (seed $seed)',
    ({ shards, k, ties, full, seed }) => {
      const next = rng(seed);
      const queries = 20;
      const outputs = Array.from({ length: shards }, () => randomOutput(next, queries, k, ties, full));
      for (let q = 0; q < queries; q++) {
        const merged = mergeTopK(outputs, q, k);
        expect(merged).toEqual(reference(outputs, q, k));
        expect(merged.length).toBeLessThanOrEqual(k);
        for (let i = 1; i < merged.length; i++) {
          expect((merged[i] as Hit).distance).toBeGreaterThanOrEqual((merged[i - 1] as Hit).distance);
        }
      }
    },
  );

  it.each([
    { name: 'the first shard', nulls: [0] },
    { name: 'a middle shard', nulls: [1] },
    { name: 'the last shard', nulls: [3] },
    { name: 'all but one shard', nulls: [0, 1, 3] },
  ])('ignores null outputs (shards skipped by a filter): $name', ({ nulls }) => {
    const next = rng(99);
    const k = 6;
    const outputs: (ShardOutput | null)[] = Array.from({ length: 4 }, (_, s) => (nulls.includes(s) ? null : randomOutput(next, 3, k, false, true)));
    for (let q = 0; q < 3; q++) {
      const merged = mergeTopK(outputs, q, k);
      expect(merged).toEqual(reference(outputs, q, k));
      for (const hit of merged) expect(nulls).not.toContain(hit.shard);
    }
  });

  it.each([
    { name: 'no outputs at all', outputs: [] as (ShardOutput | null)[] },
    { name: 'only null outputs', outputs: [null, null] },
    { name: 'outputs holding only padding', outputs: [output([[]], 3), output([[]], 3)] },
  ])('returns nothing for $name', ({ outputs }) => {
    expect(mergeTopK(outputs, 0, 3)).toEqual([]);
  });

  it('returns every result when fewer than k exist overall', () => {
    const outputs = [output([[[7, 0.5]]], 5), null, output([[[3, 0.25], [9, 2]]], 5), output([[]], 5)];
    expect(mergeTopK(outputs, 0, 5)).toEqual([
      { shard: 2, label: 3, distance: 0.25 },
      { shard: 0, label: 7, distance: 0.5 },
      { shard: 2, label: 9, distance: 2 },
    ]);
  });

  it('never returns NO_LABEL padding, even when its distance is smaller than real results', () => {
    const k = 3;
    const a = output([[[1, 5]]], k);
    a.distances[1] = -100; // padding with a bogus distance: the label says it is not a result
    const b = output([[[2, 6], [3, 7], [4, 8]]], k);
    const merged = mergeTopK([a, b], 0, k);
    expect(merged.map((h) => h.label)).toEqual([1, 2, 3]);
    for (const hit of merged) expect(hit.label).not.toBe(NO_LABEL);
    expect(NO_LABEL).toBe(0xffffffff);
  });

  it('stops reading a shard at its first NO_LABEL', () => {
    const k = 4;
    const a = output([[[1, 1]]], k);
    a.labels[2] = 42; // after the padding starts: not part of the output
    a.distances[2] = 0;
    expect(mergeTopK([a], 0, k)).toEqual([{ shard: 0, label: 1, distance: 1 }]);
  });

  it.each([
    {
      name: 'across shards, the lower shard index comes first',
      outputs: [output([[[10, 1]]], 2), output([[[20, 1]]], 2), output([[[30, 1]]], 2)],
      k: 2,
      expected: [
        { shard: 0, label: 10, distance: 1 },
        { shard: 1, label: 20, distance: 1 },
      ],
    },
    {
      name: 'within a shard, its own order is kept',
      outputs: [output([[[11, 1], [12, 1], [13, 1]]], 3), output([[[21, 1]]], 3)],
      k: 3,
      expected: [
        { shard: 0, label: 11, distance: 1 },
        { shard: 0, label: 12, distance: 1 },
        { shard: 0, label: 13, distance: 1 },
      ],
    },
    {
      name: 'a later shard wins only with a strictly smaller distance',
      outputs: [output([[[11, 2], [12, 3]]], 2), output([[[21, 2], [22, 2.5]]], 2)],
      k: 2,
      expected: [
        { shard: 0, label: 11, distance: 2 },
        { shard: 1, label: 21, distance: 2 },
      ],
    },
    {
      name: 'infinite real distances are still results',
      outputs: [output([[[1, Number.POSITIVE_INFINITY]]], 2), output([[[2, 0]]], 2)],
      k: 2,
      expected: [
        { shard: 1, label: 2, distance: 0 },
        { shard: 0, label: 1, distance: Number.POSITIVE_INFINITY },
      ],
    },
    {
      name: 'negative distances (inner product) sort first',
      outputs: [output([[[1, -0.5], [2, 0.1]]], 2), output([[[3, -2]]], 2)],
      k: 2,
      expected: [
        { shard: 1, label: 3, distance: -2 },
        { shard: 0, label: 1, distance: -0.5 },
      ],
    },
  ])('breaks ties deterministically: $name', ({ outputs, k, expected }) => {
    expect(mergeTopK(outputs, 0, k)).toEqual(expected);
  });

  it('reads only the rows of the requested query', () => {
    const k = 2;
    const a = output([[[1, 1], [2, 2]], [[3, 0.5]], []], k);
    const b = output([[[4, 1.5]], [[5, 0.1], [6, 9]], [[7, 3]]], k);
    expect(mergeTopK([a, b], 0, k)).toEqual([
      { shard: 0, label: 1, distance: 1 },
      { shard: 1, label: 4, distance: 1.5 },
    ]);
    expect(mergeTopK([a, b], 1, k)).toEqual([
      { shard: 1, label: 5, distance: Math.fround(0.1) },
      { shard: 0, label: 3, distance: 0.5 },
    ]);
    expect(mergeTopK([a, b], 2, k)).toEqual([{ shard: 1, label: 7, distance: 3 }]);
  });

  it('returns nothing for k = 0', () => {
    expect(mergeTopK([output([[]], 0)], 0, 0)).toEqual([]);
  });

  it('leaves its inputs unchanged', () => {
    const outputs = [randomOutput(rng(5), 2, 4, true, false), randomOutput(rng(6), 2, 4, true, false)];
    const copies = outputs.map((o) => ({ labels: o.labels.slice(), distances: o.distances.slice() }));
    mergeTopK(outputs, 0, 4);
    mergeTopK(outputs, 1, 4);
    expect(outputs).toEqual(copies);
  });
});

describe('planQueryRanges', () => {
  function expectCovers(ranges: [number, number][], queries: number): void {
    let at = 0;
    for (const [from, count] of ranges) {
      expect(from).toBe(at);
      expect(Number.isInteger(count)).toBe(true);
      expect(count).toBeGreaterThan(0);
      at = from + count;
    }
    expect(at).toBe(queries);
  }

  const grid: { queries: number; shards: number; threads: number; minPerTask: number }[] = [];
  for (const queries of [0, 1, 5, 15, 16, 17, 31, 32, 33, 63, 64, 100, 129, 257, 1000, 4097, 10_000]) {
    for (const shards of [1, 2, 3, 4, 8]) {
      for (const threads of [1, 2, 3, 4, 8, 16, 32]) {
        for (const minPerTask of [1, 16, 64]) grid.push({ queries, shards, threads, minPerTask });
      }
    }
  }

  it('covers [0, queries) exactly once with contiguous ranges, and uses no more ranges than needed, for every case of a grid', () => {
    for (const { queries, shards, threads, minPerTask } of grid) {
      const ranges = planQueryRanges(queries, shards, threads, minPerTask);
      expectCovers(ranges, queries);
      expect(ranges.length).toBeLessThanOrEqual(Math.max(1, Math.ceil(threads / shards)));
      expect(ranges.length).toBeLessThanOrEqual(Math.max(1, Math.floor(queries / minPerTask)));
    }
  });

  it.each([
    [1, 1, 8],
    [15, 1, 8],
    [15, 4, 32],
    [10, 2, 2],
    [31, 1, 16],
  ])('gives one range for %i queries (fewer than 2 x minPerTask) over %i shard(s) and %i threads', (queries, shards, threads) => {
    expect(planQueryRanges(queries, shards, threads)).toEqual([[0, queries]]);
  });

  it.each([
    [3, 1, 8, 4],
    [63, 2, 8, 64],
  ])('gives one range for %i queries when queries < minPerTask (shards %i, threads %i, minPerTask %i)', (queries, shards, threads, min) => {
    expect(planQueryRanges(queries, shards, threads, min)).toEqual([[0, queries]]);
  });

  it('gives no ranges for no queries', () => {
    expect(planQueryRanges(0, 2, 8)).toEqual([]);
  });

  it.each([
    { queries: 1000, shards: 1, threads: 8, expected: 8 },
    { queries: 1000, shards: 2, threads: 8, expected: 4 },
    { queries: 1000, shards: 3, threads: 8, expected: 3 },
    { queries: 1000, shards: 4, threads: 8, expected: 2 },
    { queries: 1000, shards: 8, threads: 4, expected: 1 },
    { queries: 1000, shards: 4, threads: 1, expected: 1 },
    { queries: 10_000, shards: 2, threads: 16, expected: 8 },
    { queries: 10_000, shards: 1, threads: 32, expected: 32 },
    { queries: 64, shards: 1, threads: 4, expected: 4 },
    { queries: 128, shards: 1, threads: 8, expected: 8 },
  ])('gives ceil(threads / shards) = $expected ranges for $queries queries, $shards shards, $threads threads', ({ queries, shards, threads, expected }) => {
    const ranges = planQueryRanges(queries, shards, threads);
    expect(ranges).toHaveLength(expected);
    expectCovers(ranges, queries);
  });

  it.each([
    { queries: 40, threads: 8, expected: 2 },
    { queries: 48, threads: 8, expected: 3 },
    { queries: 96, threads: 32, expected: 6 },
  ])('caps the number of ranges at floor(queries / minPerTask): $queries queries, $threads threads -> $expected', ({ queries, threads, expected }) => {
    const ranges = planQueryRanges(queries, 1, threads);
    expect(ranges).toHaveLength(expected);
    for (const [, count] of ranges) expect(count).toBeGreaterThanOrEqual(16);
  });

  it('splits evenly when the queries divide evenly', () => {
    expect(planQueryRanges(64, 1, 4)).toEqual([
      [0, 16],
      [16, 16],
      [32, 16],
      [48, 16],
    ]);
    expect(planQueryRanges(1000, 4, 8)).toEqual([
      [0, 500],
      [500, 500],
    ]);
  });

  // BUG: ranges are cut at ceil(queries / chunks), so the last range gets the remainder, which
  // can be far below minPerTask (the doc comment promises "no task gets fewer than minPerTask
  // queries"). planQueryRanges(129, 1, 8) returns seven ranges of 17 and [119, 10];
  // planQueryRanges(257, 1, 16) returns fifteen of 17 and [255, 2]; planQueryRanges(100, 1, 32)
  // returns five of 17 and [85, 15]. A balanced split
  // (floor(queries / chunks), the first queries % chunks ranges one larger) avoids both.
  it.each([
    { queries: 129, shards: 1, threads: 8 },
    { queries: 257, shards: 1, threads: 16 },
    { queries: 257, shards: 2, threads: 32 },
    { queries: 100, shards: 1, threads: 32 },
  ])('gives no range fewer than minPerTask queries when it splits: $queries queries, $shards shard(s), $threads threads', ({ queries, shards, threads }) => {
    const ranges = planQueryRanges(queries, shards, threads);
    expect(ranges.length).toBeGreaterThan(1);
    for (const [, count] of ranges) expect(count).toBeGreaterThanOrEqual(16);
  });

  // BUG (same cause): with enough queries for every thread, rounding the range size up can
  // leave a thread idle: planQueryRanges(289, 1, 18) returns 17 ranges of 17 instead of 18;
  // planQueryRanges(9, 1, 4, 1) returns 3 ranges of 3 instead of 4.
  it.each([
    { queries: 289, threads: 18, min: 16, expected: 18 },
    { queries: 9, threads: 4, min: 1, expected: 4 },
  ])('gives ceil(threads / shards) ranges whenever queries >= that many x minPerTask: $queries queries, $threads threads, minPerTask $min', ({ queries, threads, min, expected }) => {
    expect(planQueryRanges(queries, 1, threads, min)).toHaveLength(expected);
  });
});

// Search restricted by a label bitset (native/filter_search.h): every result is allowed and
// live, the exact scan below the threshold equals a brute force, the filtered graph walk above
// it keeps recall, and a walk never returns fewer than k while k are allowed.
import { afterEach, describe, expect, it } from 'vitest';

import { NO_LABEL, native, nativeSync } from '../../src/native/binding.js';
import { Segment } from '../../src/native/segment.js';
import { bruteForceKnn, randomVectors, range, recallAtK, rng } from '../support/data.js';

const open: Segment[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.free();
  expect(native.totalBytes()).toBe(0);
});

function bitsOf(labels: Iterable<number>, limit: number): Uint32Array {
  const words = new Uint32Array(Math.ceil(limit / 32));
  for (const l of labels) words[l >>> 5] = ((words[l >>> 5] as number) | (1 << (l & 31))) >>> 0;
  return words;
}

function search(seg: Segment, queries: Float32Array, k: number, ef: number, bits: Uint32Array): { labels: Uint32Array; distances: Float32Array } {
  const nq = queries.length / native.segmentInfo(seg.handle).dim;
  const labels = new Uint32Array(nq * k);
  const distances = new Float32Array(nq * k);
  nativeSync.searchBatchInto(seg.handle, queries, k, ef, null, null, labels, distances, bits);
  return { labels, distances };
}

describe('allowBits', () => {
  it('restricts results exactly below the threshold and through the filtered walk above it', async () => {
    const n = 4000;
    const dim = 16;
    const base = randomVectors(n, dim, 30);
    const queries = randomVectors(50, dim, 31);
    const seg = await Segment.create({ dim, capacity: n });
    open.push(seg);
    await seg.add(range(n), base);
    const next = rng(9);
    // ef 16: at most 32 x 16 = 512 allowed labels are scanned exactly.
    for (const fraction of [0.01, 0.1, 0.3, 0.6, 0.95]) {
      const allowed = [...range(n)].filter(() => next() < fraction);
      const out = search(seg, queries, 10, 16, bitsOf(allowed, n));
      const set = new Set(allowed);
      expect(Array.from(out.labels).every((l) => set.has(l))).toBe(true);
      const subset = new Float32Array(allowed.length * dim);
      allowed.forEach((l, i) => subset.set(base.subarray(l * dim, (l + 1) * dim), i * dim));
      const truth = bruteForceKnn('l2', subset, Uint32Array.from(allowed), queries, dim, 10);
      const recall = recallAtK(out.labels, truth, 10);
      if (allowed.length <= 512) expect(recall, `${fraction}`).toBe(1);
      else expect(recall, `${fraction}`).toBeGreaterThanOrEqual(0.9);
    }
  });

  it('leaves out deleted labels, fills short results, and refuses allow beside allowBits', async () => {
    const seg = await Segment.create({ dim: 2, capacity: 8 });
    open.push(seg);
    await seg.add([0, 1, 2, 3], [[0, 0], [1, 1], [2, 2], [3, 3]]);
    await seg.delete([1]);
    const out = search(seg, Float32Array.from([0, 0]), 3, 8, bitsOf([1, 2, 40], 64));
    expect(Array.from(out.labels)).toEqual([2, NO_LABEL, NO_LABEL]);
    expect(out.distances[1]).toBe(Infinity);
    const none = search(seg, Float32Array.from([0, 0]), 2, 8, new Uint32Array(1));
    expect(Array.from(none.labels)).toEqual([NO_LABEL, NO_LABEL]);
    expect(() =>
      nativeSync.searchBatchInto(seg.handle, Float32Array.from([0, 0]), 1, 8, Uint32Array.from([0]), null, new Uint32Array(1), new Float32Array(1), new Uint32Array(1)),
    ).toThrow(/allow or allowBits/);
  });

  it('returns k results whenever k are allowed, even when the allowed ones sit far from the query', async () => {
    // Two clusters; only the far cluster is allowed (a third of the records, so the walk runs).
    const n = 3000;
    const dim = 8;
    const base = randomVectors(n, dim, 40);
    for (let i = 0; i < n; i++) if (i % 3 === 0) for (let j = 0; j < dim; j++) base[i * dim + j] = (base[i * dim + j] as number) + 50;
    const seg = await Segment.create({ dim, capacity: n });
    open.push(seg);
    await seg.add(range(n), base);
    const allowed = [...range(n)].filter((i) => i % 3 === 0);
    const out = search(seg, randomVectors(20, dim, 41), 10, 10, bitsOf(allowed, n));
    expect(Array.from(out.labels).every((l) => l !== NO_LABEL && l % 3 === 0)).toBe(true);
  });
});

// The exact-bytes promise: what a segment reports equals what the allocator handed out.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { native, nativeSync, type SegmentHandle } from '../../src/native/binding.js';
import { randomVectors, range } from '../support/data.js';
import { allocatorBytes, allocatorCountersAvailable, sanitized } from '../support/native.js';

// Segments of 30-40 MB: large enough that other threads' allocations during a measurement
// (V8's compilers, the test runner) and glibc's per-thread caches stay far below 1%.
const CONFIGS = [
  { dim: 32, M: 8, n: 100_000, capacity: 120_000 },
  { dim: 128, M: 16, n: 40_000, capacity: 50_000 },
  { dim: 784, M: 32, n: 8_000, capacity: 10_000 },
] as const;

let baseline = 0;
beforeAll(() => {
  baseline = native.totalBytes();
});
afterEach(() => {
  expect(native.totalBytes()).toBe(baseline);
});

function relativeError(reported: number, measured: number): number {
  return Math.abs(reported - measured) / measured;
}

// Needs the allocator's own counters (glibc 2.33+); elsewhere the count is exact by
// construction (accounting.cc) and the tests below check it returns to zero.
describe.skipIf(sanitized || !allocatorCountersAvailable)('segment bytes against the allocator (mallinfo2)', () => {
  it.each(CONFIGS)('match within 1% for dim $dim, M $M: built, after deletes, after resize, loaded', (cfg) => {
    const vectors = randomVectors(cfg.n, cfg.dim, cfg.dim);
    const labels = range(cfg.n);
    const doomed = range(cfg.n / 10);
    const path = `${tmpdir()}/shoal-acct-${process.pid}-${cfg.dim}.seg`;
    native.trimAllocator();

    const start = allocatorBytes();
    const h = nativeSync.createSegment({ dim: cfg.dim, space: 'l2', M: cfg.M, efConstruction: 64, capacity: cfg.capacity });
    let freed = false;
    try {
    nativeSync.addBatch(h, labels, vectors, false);
    const built = native.segmentBytes(h);
    expect(relativeError(built, allocatorBytes() - start)).toBeLessThan(0.01);

    nativeSync.deleteBatch(h, doomed);
    const afterDeletes = native.segmentBytes(h);
    expect(afterDeletes).toBeGreaterThan(built); // the deleted-slot set is real memory
    expect(relativeError(afterDeletes, allocatorBytes() - start)).toBeLessThan(0.01);

    nativeSync.resizeSegment(h, cfg.capacity * 2);
    const afterResize = native.segmentBytes(h);
    expect(afterResize).toBeGreaterThan(afterDeletes);
    expect(relativeError(afterResize, allocatorBytes() - start)).toBeLessThan(0.01);

    nativeSync.saveSegment(h, path);
    } finally {
      nativeSync.freeSegment(h);
      freed = true;
    }
    expect(freed).toBe(true);
    expect(native.totalBytes()).toBe(baseline);

    const beforeLoad = allocatorBytes();
    const loaded = nativeSync.loadSegment(path);
    try {
      const loadedBytes = native.segmentBytes(loaded);
      expect(relativeError(loadedBytes, allocatorBytes() - beforeLoad)).toBeLessThan(0.01);
      expect(native.segmentInfo(loaded).count).toBe(cfg.n - doomed.length);
    } finally {
      nativeSync.freeSegment(loaded);
      rmSync(path, { force: true });
    }
  });
});

describe('the planning estimate', () => {
  it.each(CONFIGS)('is an upper bound within 3% of the exact bytes for dim $dim, M $M', (cfg) => {
    const n = cfg.n / 4;
    const vectors = randomVectors(n, cfg.dim, 7);
    const h = nativeSync.createSegment({ dim: cfg.dim, space: 'l2', M: cfg.M, efConstruction: 32, capacity: n });
    try {
      nativeSync.addBatch(h, range(n), vectors, false);
      const exact = native.segmentBytes(h);
      const estimate = native.estimateBytes({ dim: cfg.dim, M: cfg.M, capacity: n, count: n }).totalBytes;
      expect(estimate).toBeGreaterThanOrEqual(exact);
      expect(estimate / exact).toBeLessThan(1.03);
    } finally {
      nativeSync.freeSegment(h);
    }
  });

});

describe("hnswlib's label lock table", () => {
  const LOCK_TABLE = 40 * 65536; // 65,536 std::mutex of 40 bytes

  it('is not allocated by a load, only by the first write after it', () => {
    const path = `${tmpdir()}/shoal-locks-${process.pid}.seg`;
    const h = nativeSync.createSegment({ dim: 16, space: 'l2', capacity: 1000 });
    let built = 0;
    try {
      // A new segment is about to be written: it keeps the table.
      expect(native.segmentInfo(h).labelLockBytes).toBe(0);
      nativeSync.addBatch(h, range(500), randomVectors(500, 16, 3), false);
      built = native.segmentBytes(h);
      nativeSync.saveSegment(h, path);
    } finally {
      nativeSync.freeSegment(h);
    }

    const loaded = nativeSync.loadSegment(path);
    try {
      const before = native.segmentInfo(loaded);
      expect(before.labelLockBytes).toBeGreaterThanOrEqual(LOCK_TABLE);
      // Smaller than the built one by the table, give or take a few hundred bytes: a label
      // map reserved at load has other buckets than one grown by inserts, and the table's
      // chunk is 16 or 4,088 bytes over its size as glibc serves it from the heap or by mmap.
      expect(before.bytes).toBeLessThan(built - LOCK_TABLE + 4096);
      // Not even for a moment: the load's peak is within the estimate less the table, which is
      // what the budget reserves for a load (sizes.ts loadBytes).
      const e = native.estimateBytes({ dim: 16, M: 16, capacity: before.capacity, count: 500 });
      expect(before.peakBytes).toBeLessThanOrEqual(e.totalBytes - e.labelLockBytes);
      // A search needs no lock table.
      const out = nativeSync.searchBatch(loaded, randomVectors(1, 16, 9), 5, 50, null);
      expect([...out.labels].every((l) => l < 500)).toBe(true);
      expect(native.segmentInfo(loaded).labelLockBytes).toBe(before.labelLockBytes);

      // The first write (here a delete) allocates it, within what labelLockBytes promised
      // plus the deleted-slot set; the next write allocates no second one.
      nativeSync.deleteBatch(loaded, range(1));
      const after = native.segmentInfo(loaded);
      expect(after.labelLockBytes).toBe(0);
      expect(after.bytes - before.bytes).toBeGreaterThanOrEqual(LOCK_TABLE);
      expect(after.bytes - before.bytes).toBeLessThanOrEqual(before.labelLockBytes + 64 + 4096);
      nativeSync.deleteBatch(loaded, Uint32Array.of(1));
      expect(native.segmentBytes(loaded) - after.bytes).toBeLessThan(4096);
      expect(nativeSync.getVectors(loaded, Uint32Array.of(2)).length).toBe(16);
    } finally {
      nativeSync.freeSegment(loaded);
      rmSync(path, { force: true });
    }
  });
});

describe('the process-wide total', () => {
  it('is the sum of live segments and returns exactly to its start after every free', () => {
    const handles: SegmentHandle[] = [];
    for (let i = 0; i < 4; i++) {
      const h = nativeSync.createSegment({ dim: 16, space: 'cosine', M: 8, capacity: 500 });
      nativeSync.addBatch(h, range(300), randomVectors(300, 16, i), false);
      handles.push(h);
    }
    const sum = handles.reduce((s, h) => s + native.segmentBytes(h), 0);
    expect(native.totalBytes() - baseline).toBe(sum);
    for (const h of handles) nativeSync.freeSegment(h);
    expect(native.totalBytes()).toBe(baseline);
    expect(native.liveSegments()).toBe(0);
  });

  it('counts the search scratch a search allocates while it runs, and none after', () => {
    const h = nativeSync.createSegment({ dim: 32, space: 'l2', capacity: 2000 });
    nativeSync.addBatch(h, range(2000), randomVectors(2000, 32, 3), false);
    const before = native.segmentBytes(h);
    nativeSync.searchBatch(h, randomVectors(50, 32, 4), 10, 200, null);
    // One visited list may have been added to the pool (kept for the next search); the
    // per-search queues are gone.
    expect(native.segmentBytes(h)).toBe(before);
    expect(native.segmentInfo(h).peakBytes).toBeGreaterThan(before);
    nativeSync.freeSegment(h);
  });
});

describe.skipIf(sanitized)('freeing a segment', () => {
  const DEFAULT_SLACK = native.allocatorCounters().slackBytes;
  afterEach(() => native.setAllocatorSlack(DEFAULT_SLACK));

  it('gives its memory back to the operating system (slack 0)', () => {
    native.setAllocatorSlack(0);
    const dim = 128;
    const n = 60_000;
    const vectors = randomVectors(n, dim, 11);
    const labels = range(n);
    native.trimAllocator();
    const rssBefore = process.memoryUsage.rss();
    const h = nativeSync.createSegment({ dim, space: 'l2', M: 16, efConstruction: 32, capacity: n });
    nativeSync.addBatch(h, labels, vectors, false);
    const held = native.segmentBytes(h);
    const rssBuilt = process.memoryUsage.rss();
    expect(rssBuilt - rssBefore).toBeGreaterThan(held * 0.8);
    nativeSync.freeSegment(h);
    const rssAfter = process.memoryUsage.rss();
    // At least 90% of what the segment held is no longer resident.
    expect(rssBuilt - rssAfter).toBeGreaterThan(held * 0.9);
  });

  it('keeps up to the slack of freed heap mapped for the next segment, and trims beyond it', () => {
    const build = (): SegmentHandle => {
      const h = nativeSync.createSegment({ dim: 16, space: 'l2', M: 8, efConstruction: 16, capacity: 2000 });
      nativeSync.addBatch(h, range(2000), randomVectors(2000, 16, 12), false);
      return h;
    };
    native.setAllocatorSlack(1 << 30);
    native.trimAllocator();
    const trims = native.allocatorCounters().trims;
    nativeSync.freeSegment(build());
    const retained = native.allocatorCounters().retainedHeapBytes;
    expect(retained).toBeGreaterThan(0); // within the slack: nothing was trimmed
    expect(native.allocatorCounters().trims).toBe(trims);
    const again = build(); // the same sizes again: the freed heap is used again
    expect(native.allocatorCounters().retainedHeapBytes).toBeLessThan(retained);
    native.setAllocatorSlack(0);
    nativeSync.freeSegment(again); // past the slack now: trimmed at once
    expect(native.allocatorCounters().trims).toBe(trims + 1);
    expect(native.allocatorCounters().retainedHeapBytes).toBe(0);
  });
});

// Segments shared across threads by handle: concurrent searches and writes, free while in use,
// cooperative cancellation, and segments outliving the thread that made them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { AbortError, ClosedError } from '../../src/errors.js';
import { native, nativeAsync, nativeSync, type SegmentHandle } from '../../src/native/binding.js';
import { randomVectors, range } from '../support/data.js';

const WORKER = new URL('../fixtures/segment-worker.mjs', import.meta.url);
let baseline = 0;
let dir = '';
beforeAll(() => {
  baseline = native.totalBytes();
  dir = mkdtempSync(join(tmpdir(), 'shoal-threads-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  expect(native.liveSegments()).toBe(0);
  expect(native.totalBytes()).toBe(baseline);
});

function runWorker<T>(data: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: data });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
}

describe('searching from two workers while the main thread writes', () => {
  it('every search sees a consistent index and finds each unchanged vector first', async () => {
    const dim = 32;
    const stable = 3000;
    const h = await nativeAsync.createSegment({ dim, space: 'l2', M: 12, efConstruction: 100, capacity: 20_000 });
    try {
      const base = randomVectors(stable, dim, 1);
      await nativeAsync.addBatch(h, range(stable), base, false);
      const probe = range(200).map((i) => i * 15);
      const queries = new Float32Array(probe.length * dim);
      probe.forEach((label, i) => queries.set(base.subarray(label * dim, (label + 1) * dim), i * dim));
      const workerData = { task: 'self-search', handle: h, dim, rounds: 40, queries: queries.buffer, expected: Array.from(probe) };

      const searchers = [runWorker<{ searches: number; misses: number }>(workerData), runWorker<{ searches: number; misses: number }>(workerData)];
      // Writes the searchers never query: new labels in batches, deletes of some of them,
      // upserts of others, and a resize.
      for (let b = 0; b < 8; b++) {
        const labels = range(1000, 10_000 + b * 1000);
        await nativeAsync.addBatch(h, labels, randomVectors(1000, dim, 100 + b), false);
        await nativeAsync.deleteBatch(h, labels.subarray(0, 100));
        await nativeAsync.addBatch(h, labels.subarray(500, 600), randomVectors(100, dim, 200 + b), true);
        if (b === 4) await nativeAsync.resizeSegment(h, 40_000);
      }
      const results = await Promise.all(searchers);
      for (const r of results) {
        expect(r.searches).toBe(40 * 200);
        expect(r.misses).toBe(0);
      }
      expect(native.segmentInfo(h)).toMatchObject({ count: stable + 8 * 900, capacity: 40_000 });
    } finally {
      await nativeAsync.freeSegment(h);
    }
  });
});

describe('freeing a segment in use', () => {
  it('lets calls that started first finish, then refuses new ones', async () => {
    const dim = 64;
    const h = await nativeAsync.createSegment({ dim, space: 'l2', capacity: 5000 });
    await nativeAsync.addBatch(h, range(5000), randomVectors(5000, dim, 3), false);
    const queries = randomVectors(4000, dim, 4);
    const search = nativeAsync.searchBatch(h, queries, 10, 128, null);
    const freed = nativeAsync.freeSegment(h);
    const late = nativeAsync.searchBatch(h, queries.subarray(0, dim), 10, 128, null).then(() => null, (e: unknown) => e);
    const out = await search;
    expect(out.labels.length).toBe(4000 * 10);
    expect(Array.from(out.labels.subarray(0, 10)).every((l) => l < 5000)).toBe(true);
    await freed;
    expect(await late).toBeInstanceOf(ClosedError);
    expect(() => native.segmentInfo(h)).toThrow(ClosedError);
  });

  it('a segment made in a worker outlives the worker and is freed from main', async () => {
    const { handle } = await runWorker<{ handle: SegmentHandle }>({ task: 'create', dim: 2, queries: new Float32Array([0, 0, 1, 1]).buffer });
    const out = nativeSync.searchBatch(handle, new Float32Array([1, 1]), 1, 10, null);
    expect(out.labels[0]).toBe(2);
    await nativeAsync.freeSegment(handle);
  });
});

describe('cooperative cancellation', () => {
  const flag = (): Int32Array => new Int32Array(new SharedArrayBuffer(4));

  it('a batch add stops between elements and keeps exactly those before the cancel', async () => {
    const dim = 64;
    const n = 20_000;
    const h = await nativeAsync.createSegment({ dim, space: 'l2', capacity: n });
    try {
      const cancel = flag();
      const adding = nativeAsync.addBatch(h, range(n), randomVectors(n, dim, 5), false, cancel);
      Atomics.store(cancel, 0, 1);
      const err = await adding.then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(AbortError);
      const completed = (err as AbortError).details['completed'] as number;
      expect(completed).toBeLessThan(n);
      expect(native.segmentInfo(h).count).toBe(completed);
    } finally {
      await nativeAsync.freeSegment(h);
    }
  });

  it('searches, saves and loads stop on a set flag and leave nothing behind', async () => {
    const h = await nativeAsync.createSegment({ dim: 4, space: 'l2', capacity: 10 });
    await nativeAsync.addBatch(h, range(10), randomVectors(10, 4, 6), false);
    const cancel = flag();
    Atomics.store(cancel, 0, 1);
    await expect(nativeAsync.searchBatch(h, randomVectors(3, 4, 7), 1, 10, null, cancel)).rejects.toMatchObject({
      code: 'SHOAL_ABORTED',
      details: { completed: 0 },
    });
    const path = join(dir, 'cancel.seg');
    await expect(nativeAsync.saveSegment(h, path, cancel)).rejects.toBeInstanceOf(AbortError);
    await nativeAsync.saveSegment(h, path);
    const before = native.totalBytes();
    await expect(nativeAsync.loadSegment(path, undefined, cancel)).rejects.toBeInstanceOf(AbortError);
    expect(native.totalBytes()).toBe(before);
    expect(native.liveSegments()).toBe(1);
    await nativeAsync.freeSegment(h);
  });
});

describe('one batch inserted on several threads', () => {
  const dim = 16;

  it('stores every row exactly once, each findable first, and frees to the byte', () => {
    const n = 3000;
    const vectors = randomVectors(n, dim, 41);
    const h = nativeSync.createSegment({ dim, space: 'l2', M: 12, efConstruction: 100, capacity: n });
    try {
      nativeSync.addBatch(h, range(n), vectors, false, undefined, 4);
      expect(native.segmentInfo(h).count).toBe(n);
      expect(native.segmentInfo(h).slotsUsed).toBe(n);
      expect(Array.from(nativeSync.getVectors(h, range(n)))).toEqual(Array.from(vectors));
      const probes = 300;
      const out = nativeSync.searchBatch(h, vectors.subarray(0, probes * dim), 1, 64, null);
      expect(Array.from(out.labels)).toEqual(Array.from(range(probes)));
    } finally {
      nativeSync.freeSegment(h);
    }
  });

  it('upserts live, deleted and new labels in one parallel batch: each slot used once, every vector the new one', () => {
    const n = 2000;
    const h = nativeSync.createSegment({ dim, space: 'l2', M: 12, efConstruction: 100, capacity: n + 500 });
    try {
      nativeSync.addBatch(h, range(n), randomVectors(n, dim, 42), false, undefined, 2);
      nativeSync.deleteBatch(h, range(500)); // 0..499 deleted
      // 0..499 come back, 500..999 are replaced, 2000..2499 are new (and take free slots).
      const labels = Uint32Array.from([...range(1000), ...Array.from({ length: 500 }, (_, i) => n + i)]);
      const fresh = randomVectors(labels.length, dim, 43);
      nativeSync.addBatch(h, labels, fresh, true, undefined, 2);
      const info = native.segmentInfo(h);
      expect(info.count).toBe(n + 500);
      expect(info.deletedCount).toBe(0);
      expect(info.slotsUsed).toBe(n + 500);
      expect(Array.from(nativeSync.getVectors(h, labels))).toEqual(Array.from(fresh));
      const out = nativeSync.searchBatch(h, fresh, 1, 64, null);
      const self = Array.from(out.labels).filter((l, i) => l === labels[i]).length;
      expect(self).toBeGreaterThanOrEqual(labels.length - 5);
    } finally {
      nativeSync.freeSegment(h);
    }
  });

  it('normalising is idempotent: stored cosine rows added again are stored bit for bit', () => {
    const n = 500;
    const a = nativeSync.createSegment({ dim, space: 'cosine', M: 12, efConstruction: 100, capacity: n });
    const b = nativeSync.createSegment({ dim, space: 'cosine', M: 12, efConstruction: 100, capacity: n });
    try {
      nativeSync.addBatch(a, range(n), randomVectors(n, dim, 45), false);
      const stored = nativeSync.getVectors(a, range(n));
      nativeSync.addBatch(b, range(n), stored, false);
      expect(Array.from(new Uint32Array(nativeSync.getVectors(b, range(n)).buffer))).toEqual(Array.from(new Uint32Array(stored.slice().buffer)));
    } finally {
      nativeSync.freeSegment(a);
      nativeSync.freeSegment(b);
    }
  });

  it('normalises cosine rows on every thread', () => {
    const n = 1000;
    const vectors = randomVectors(n, dim, 44);
    const h = nativeSync.createSegment({ dim, space: 'cosine', M: 12, efConstruction: 100, capacity: n });
    try {
      nativeSync.addBatch(h, range(n), vectors, false, undefined, 3);
      const stored = nativeSync.getVectors(h, range(n));
      for (let i = 0; i < n; i++) {
        let norm = 0;
        for (let j = 0; j < dim; j++) norm += (stored[i * dim + j] as number) ** 2;
        expect(Math.abs(Math.sqrt(norm) - 1)).toBeLessThan(1e-5);
      }
    } finally {
      nativeSync.freeSegment(h);
    }
  });
});

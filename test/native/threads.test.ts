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

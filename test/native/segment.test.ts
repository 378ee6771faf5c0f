// What a segment does: spaces, writes, deletes, filters, growth, persistence, kernels.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { NO_LABEL, native } from '../../src/native/binding.js';
import { Segment } from '../../src/native/segment.js';
import { crc32c } from '../support/crc32c.js';
import { bruteForceKnn, distance, loadSiftSmall, randomVectors, range, recallAtK, type Space } from '../support/data.js';
import { nodeCommand } from '../support/node.js';

let dir = '';
let baseline = 0;
const open: Segment[] = [];
async function make(options: Parameters<typeof Segment.create>[0]): Promise<Segment> {
  const s = await Segment.create(options);
  open.push(s);
  return s;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-seg-'));
  baseline = native.totalBytes();
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.free();
  expect(native.totalBytes()).toBe(baseline);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rows = (flat: ArrayLike<number>, k: number, n: number): number[][] =>
  Array.from({ length: n }, (_, q) => Array.from({ length: k }, (_, j) => flat[q * k + j] as number));

describe.each<Space>(['l2', 'ip', 'cosine'])('space %s', (space) => {
  it('returns the exact neighbours, nearest first, with the true distances', async () => {
    const dim = 24;
    const n = 600;
    const base = randomVectors(n, dim, 1);
    const queries = randomVectors(20, dim, 2);
    const seg = await make({ dim, space, capacity: n, M: 16, efConstruction: 200 });
    await seg.add(range(n), base);
    const out = await seg.search(queries, { k: 5, ef: 400 });
    expect(rows(out.labels, 5, 20)).toEqual(bruteForceKnn(space, base, range(n), queries, dim, 5));
    for (let q = 0; q < 20; q++) {
      const label = out.labels[q * 5] as number;
      const want = distance(space, queries.subarray(q * dim, (q + 1) * dim), base.subarray(label * dim, (label + 1) * dim));
      expect(out.distances[q * 5]).toBeCloseTo(want, 4);
      expect(out.distances[q * 5]).toBeLessThanOrEqual(out.distances[q * 5 + 4] as number);
    }
  });
});

describe('writes', () => {
  it('cosine stores unit vectors and returns them from get', async () => {
    const seg = await make({ dim: 3, space: 'cosine', capacity: 4 });
    await seg.add([7], [[3, 0, 4]]);
    expect(Array.from(await seg.get([7]))).toEqual([expect.closeTo(0.6, 6), 0, expect.closeTo(0.8, 6)]);
  });

  it('upsert replaces a vector in place and adds new labels', async () => {
    const seg = await make({ dim: 2, capacity: 4 });
    await seg.add([1, 2], [[0, 0], [10, 10]]);
    await seg.upsert([1, 3], [[9, 9], [5, 5]]);
    expect(seg.count()).toBe(3);
    expect(Array.from(await seg.get([1]))).toEqual([9, 9]);
    const near = await seg.search([[10, 10]], { k: 2 });
    expect(Array.from(near.labels)).toEqual([2, 1]);
  });

  it('deleted labels leave results and the count, and their slots are reused', async () => {
    const n = 200;
    const seg = await make({ dim: 8, capacity: n });
    const base = randomVectors(n, 8, 5);
    await seg.add(range(n), base);
    await seg.delete(range(50));
    expect(seg.info()).toMatchObject({ count: 150, deletedCount: 50, slotsUsed: 200 });
    const out = await seg.search(base.subarray(0, 50 * 8), { k: 10, ef: 100 });
    expect(Array.from(out.labels).every((l) => l >= 50)).toBe(true);
    // 50 brand-new labels fit a full segment because they take the deleted slots.
    await seg.add(range(50, 1000), randomVectors(50, 8, 6));
    expect(seg.info()).toMatchObject({ count: 200, deletedCount: 0, slotsUsed: 200, capacity: n });
    await expect(seg.get([3])).rejects.toMatchObject({ code: 'SHOAL_NOT_FOUND' });
  });

  it('re-adding a deleted label brings it back in its own slot, in the same call as new labels', async () => {
    const seg = await make({ dim: 4, capacity: 3 });
    await seg.add([1, 2, 3], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]);
    await seg.delete([2, 3]);
    // Label 9 takes a free slot; label 2 must keep its own and not lose it to 9.
    await seg.add([9, 2], [[0, 0, 0, 1], [0, 2, 0, 0]]);
    expect(seg.info()).toMatchObject({ count: 3, slotsUsed: 3 });
    expect(Array.from(await seg.get([2, 9]))).toEqual([0, 2, 0, 0, 0, 0, 0, 1]);
    const out = await seg.search([[0, 2, 0, 0]], { k: 3 });
    expect(Array.from(out.labels)).toEqual([2, expect.any(Number), expect.any(Number)]);
    expect(new Set(out.labels)).toEqual(new Set([1, 2, 9]));
  });

  it('grows by resize and keeps every element', async () => {
    const seg = await make({ dim: 8, capacity: 100 });
    const base = randomVectors(300, 8, 9);
    await seg.add(range(100), base.subarray(0, 800));
    await expect(seg.add([100], base.subarray(800, 808))).rejects.toMatchObject({ code: 'SHOAL_CAPACITY_EXCEEDED' });
    const before = seg.bytes;
    await seg.resize(300);
    expect(seg.bytes).toBeGreaterThan(before);
    await seg.add(range(200, 100), base.subarray(800));
    const out = await seg.search(base, { k: 1, ef: 64 });
    expect(recallAtK(out.labels, Array.from({ length: 300 }, (_, i) => [i]), 1)).toBeGreaterThan(0.99);
  });
});

describe('search options', () => {
  it('an allow-list restricts results, exactly for short lists and through the graph for long ones', async () => {
    const n = 3000;
    const dim = 16;
    const base = randomVectors(n, dim, 12);
    const queries = randomVectors(10, dim, 13);
    const seg = await make({ dim, capacity: n });
    await seg.add(range(n), base);
    const even = range(n / 2).map((i) => i * 2);
    for (const allow of [even.subarray(0, 40), even]) {
      const out = await seg.search(queries, { k: 10, ef: 64, allow });
      const allowed = new Set(allow);
      expect(Array.from(out.labels).every((l) => allowed.has(l))).toBe(true);
      const subset = new Float32Array(allow.length * dim);
      allow.forEach((l, i) => subset.set(base.subarray(l * dim, (l + 1) * dim), i * dim));
      const truth = bruteForceKnn('l2', subset, allow, queries, dim, 10);
      expect(recallAtK(out.labels, truth, 10)).toBeGreaterThan(allow.length === 40 ? 0.999 : 0.9);
    }
  });

  it('fills missing results with NO_LABEL and +Infinity', async () => {
    const seg = await make({ dim: 2, capacity: 4 });
    await seg.add([1, 2], [[0, 0], [1, 1]]);
    const out = await seg.search([[0, 0]], { k: 4 });
    expect(Array.from(out.labels)).toEqual([1, 2, NO_LABEL, NO_LABEL]);
    expect(out.distances[3]).toBe(Infinity);
  });

  it('ef is per call: a narrow search beside a wide one does not change it', async () => {
    const n = 4000;
    const base = randomVectors(n, 32, 20);
    const queries = randomVectors(200, 32, 21);
    const seg = await make({ dim: 32, capacity: n, M: 8, efConstruction: 64 });
    await seg.add(range(n), base);
    const truth = bruteForceKnn('l2', base, range(n), queries, 32, 10);
    const [narrow, wide] = await Promise.all([seg.search(queries, { k: 10, ef: 10 }), seg.search(queries, { k: 10, ef: 400 })]);
    const wideAlone = await seg.search(queries, { k: 10, ef: 400 });
    expect(Array.from(wide.labels)).toEqual(Array.from(wideAlone.labels));
    expect(recallAtK(wide.labels, truth, 10)).toBeGreaterThan(recallAtK(narrow.labels, truth, 10));
  });

  it('reaches recall@10 >= 0.98 on siftsmall at ef 64', async () => {
    const sift = loadSiftSmall();
    const seg = await make({ dim: sift.dim, capacity: 10_000 });
    await seg.add(range(10_000), sift.base);
    const out = await seg.search(sift.queries, { k: 10, ef: 64 });
    expect(recallAtK(out.labels, sift.truth, 10)).toBeGreaterThanOrEqual(0.98);
  });
});

describe('persistence', () => {
  it('a loaded segment answers exactly as the saved one, deletes included', async () => {
    const n = 2000;
    const base = randomVectors(n, 16, 30);
    const queries = randomVectors(50, 16, 31);
    const seg = await make({ dim: 16, space: 'cosine', capacity: 2500, M: 12, efConstruction: 100 });
    await seg.add(range(n), base);
    await seg.delete(range(200, 100));
    const path = join(dir, 'a.seg');
    await seg.save(path);
    const loaded = await Segment.load(path);
    open.push(loaded);
    expect(loaded.info()).toMatchObject({ dim: 16, space: 'cosine', M: 12, efConstruction: 100, capacity: 2500, count: n - 200, deletedCount: 200 });
    expect(native.readSegmentFile(path)).toMatchObject({ formatVersion: 1, count: n - 200, dim: 16 });
    const a = await seg.search(queries, { k: 10, ef: 50 });
    const b = await loaded.search(queries, { k: 10, ef: 50 });
    expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
    expect(Array.from(b.distances)).toEqual(Array.from(a.distances));
    // Writes continue on the loaded copy: deleted slots are still reusable.
    await loaded.add([5000], randomVectors(1, 16, 32));
    expect(loaded.info().slotsUsed).toBe(n);
  });

  it('loads with more capacity than it was saved with', async () => {
    const seg = await make({ dim: 4, capacity: 10 });
    await seg.add(range(10), randomVectors(10, 4, 1));
    const path = join(dir, 'b.seg');
    await seg.save(path);
    const loaded = await Segment.load(path, { capacity: 50 });
    open.push(loaded);
    await loaded.add(range(40, 10), randomVectors(40, 4, 2));
    expect(loaded.info()).toMatchObject({ count: 50, capacity: 50 });
  });

  it.each([
    // payload sizes: below one 24 KiB checksum block, a few blocks plus a tail, and more
    // than one 768 KiB read step
    { n: 30, dim: 4 },
    { n: 300, dim: 16 },
    { n: 3001, dim: 64 },
  ])('writes CRC-32C checksums an independent implementation agrees with, and load checks them ($n x $dim)', async ({ n, dim }) => {
    const seg = await make({ dim, capacity: n, M: 8 });
    await seg.add(range(n), randomVectors(n, dim, n));
    const path = join(dir, `crc-${n}.seg`);
    await seg.save(path);
    const file = readFileSync(path);
    const payload = file.subarray(128);
    expect(file.readBigUInt64LE(64)).toBe(BigInt(payload.length));
    expect(file.readUInt32LE(72)).toBe(crc32c(payload));
    expect(file.readUInt32LE(124)).toBe(crc32c(file.subarray(0, 124)));
    // A flipped bit in the last word the checksum covers is caught.
    const damaged = Buffer.from(file);
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] as number) ^ 0x10;
    writeFileSync(path, damaged);
    await expect(Segment.load(path)).rejects.toMatchObject({ code: 'SHOAL_CORRUPT' });
  });

  // This machine may use a faster kernel than the user's: each slower one runs in a child
  // process (the kernel is chosen once per process), writes and reloads a file, and the
  // reference checks what it wrote.
  it.each(['crc32', 'portable'])('checksums with the %s kernel as the reference does, and loads what it wrote', (kernel) => {
    const path = join(dir, `kernel-${kernel}.seg`);
    const child = `
      const binary = process.env.SHOAL_NATIVE_BINARY;
      const addon = binary ? require(binary) : require('node-gyp-build')(process.cwd());
      const n = 3000, dim = 128;
      const h = addon.createSegment({ dim, space: 'l2', capacity: n, M: 8 });
      const v = new Float32Array(n * dim).map((_, i) => Math.sin(i));
      addon.addBatch(h, Uint32Array.from({ length: n }, (_, i) => i), v, false);
      addon.saveSegment(h, process.argv[1]);
      addon.freeSegment(addon.loadSegment(process.argv[1]));
    `;
    const env = { ...process.env, SHOAL_CRC32C_KERNEL: kernel };
    execFileSync(...nodeCommand(['-e', child, path]), { env, stdio: 'inherit' });
    const file = readFileSync(path);
    expect(file.length).toBeGreaterThan(2 * 768 * 1024); // several lane blocks and read steps
    expect(file.readUInt32LE(72)).toBe(crc32c(file.subarray(128)));
  });

  it('saves and loads an empty segment', async () => {
    const seg = await make({ dim: 4, capacity: 10 });
    const path = join(dir, 'empty.seg');
    await seg.save(path);
    const loaded = await Segment.load(path);
    open.push(loaded);
    expect(loaded.count()).toBe(0);
    const out = await loaded.search([[0, 0, 0, 0]], { k: 1 });
    expect(out.labels[0]).toBe(NO_LABEL);
  });
});

describe('distance kernels', () => {
  // Every SIMD kernel this CPU runs (AVX2, AVX-512 on x86-64; NEON on arm64) against the
  // portable one and the reference, at dimensions around each kernel's step and tail.
  const fast = native.buildInfo().kernels.filter((k) => k !== 'portable');
  it('lists the active kernel among those this CPU runs, portable always', () => {
    const info = native.buildInfo();
    expect(info.kernels).toContain('portable');
    expect(info.kernels).toContain(info.kernel);
  });
  it.skipIf(fast.length === 0).each([1, 7, 8, 15, 16, 17, 31, 32, 33, 47, 128, 130])(
    'SIMD kernels and portable agree for dim %i',
    (dim) => {
      const a = randomVectors(1, dim, dim);
      const b = randomVectors(1, dim, dim + 1);
      for (const kernel of fast) {
        for (const space of ['l2', 'ip'] as const) {
          const simd = native.distance(space, a, b, kernel);
          expect(simd).toBeCloseTo(native.distance(space, a, b, 'portable'), 4);
          expect(simd).toBeCloseTo(distance(space, a, b), 4);
        }
      }
    },
  );
  it('refuses a kernel this CPU or build cannot run', () => {
    const missing = (['avx2-fma', 'avx512', 'neon'] as const).find((k) => !native.buildInfo().kernels.includes(k));
    expect(missing).toBeDefined();
    expect(() => native.distance('l2', new Float32Array(4), new Float32Array(4), missing!)).toThrow(/not supported/);
  });
});

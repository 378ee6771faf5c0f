// Collections end to end through the pool: writes, reads, shards, filters, and bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  AlreadyExistsError,
  ClosedError,
  DimensionMismatchError,
  InvalidArgumentError,
  InvalidLabelError,
  InvalidVectorError,
  NotFoundError,
  ShoalError,
  Shoal,
  type Collection,
} from '../../src/index.js';
import { native } from '../../src/native/binding.js';
import { bruteForceKnn, loadSiftSmall, randomVectors, recallAtK } from '../support/data.js';

let db: Shoal;
beforeAll(async () => {
  db = await Shoal.open({ threads: 2 });
});
afterAll(async () => {
  await db.close();
  expect(native.totalBytes()).toBe(0);
});

const ids = (n: number, prefix = 'id'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const rows = (flat: Float32Array, dim: number): Float32Array[] =>
  Array.from({ length: flat.length / dim }, (_, i) => flat.subarray(i * dim, (i + 1) * dim));

describe('writes and reads', () => {
  it('adds, counts, gets, upserts and deletes by string id', async () => {
    const col = await db.createCollection('basics', { dim: 3, space: 'l2', shards: 3 });
    await col.add(['a', 'b', 'c', 'ünï-🐟'], [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]);
    expect(await col.count()).toBe(4);
    const got = await col.get(['ünï-🐟', 'a']);
    expect(got.ids).toEqual(['ünï-🐟', 'a']);
    expect(got.vectors.map((v) => Array.from(v))).toEqual([[1, 1, 1], [1, 0, 0]]);
    await col.upsert(['a', 'd'], [[5, 5, 5], [0, 0, 2]]);
    expect(await col.count()).toBe(5);
    expect(Array.from((await col.get(['a'])).vectors[0] as Float32Array)).toEqual([5, 5, 5]);
    await col.delete(['b', 'd']);
    expect(await col.count()).toBe(3);
    const [hit] = await col.query([0, 1, 0], { k: 10 });
    expect(hit?.ids).toHaveLength(3);
    expect(hit?.ids).not.toContain('b');
  });

  it('answers one query or many, one result per query, nearest first', async () => {
    const col = await db.createCollection('shapes', { dim: 2 });
    await col.add(['x', 'y'], [[0, 0], [3, 4]]);
    const single = await col.query(new Float32Array([3, 4]), { k: 2 });
    expect(single).toHaveLength(1);
    expect(single[0]?.ids).toEqual(['y', 'x']);
    expect(Array.from(single[0]?.distances ?? [])).toEqual([0, 25]);
    const many = await col.query([[0, 0], [3, 4], [3, 3]], { k: 1 });
    expect(many.map((r) => r.ids[0])).toEqual(['x', 'y', 'y']);
    expect(await col.query([], { k: 1 })).toEqual([]);
  });

  it.each([1, 2, 5])('merges %i shards into the exact top k', async (shards) => {
    const dim = 16;
    const n = 1500;
    const base = randomVectors(n, dim, 40 + shards);
    const queries = randomVectors(25, dim, 50);
    const col = await db.createCollection(`merge-${shards}`, { dim, space: 'cosine', shards });
    await col.add(ids(n), base);
    const results = await col.query(queries, { k: 10, ef: 500 });
    const truth = bruteForceKnn('cosine', base, Array.from({ length: n }, (_, i) => i), queries, dim, 10);
    results.forEach((r, q) => expect(r.ids).toEqual((truth[q] as number[]).map((i) => `id-${i}`)));
    results.forEach((r) => expect([...r.distances]).toEqual([...r.distances].sort((a, b) => a - b)));
  });

  it('restricts results to an allow-list of ids, across shards', async () => {
    const dim = 8;
    const base = randomVectors(800, dim, 3);
    const col = await db.createCollection('filtered', { dim, shards: 4 });
    await col.add(ids(800), base);
    const allowed = ids(800).filter((_, i) => i % 7 === 0);
    const [result] = await col.query(base.subarray(0, dim), { k: 20, filter: { ids: [...allowed, 'not-there'] } });
    expect(result?.ids).toHaveLength(20);
    expect(result?.ids.every((id) => allowed.includes(id))).toBe(true);
    expect(result?.ids[0]).toBe('id-0');
    const [none] = await col.query(base.subarray(0, dim), { k: 5, filter: { ids: [] } });
    expect(none?.ids).toEqual([]);
  });

  it('grows past its first capacity without losing anything', async () => {
    const col = await db.createCollection('growth', { dim: 4, shards: 2 });
    for (let b = 0; b < 5; b++) await col.add(ids(1000, `b${b}`), randomVectors(1000, 4, b));
    expect(await col.count()).toBe(5000);
    const got = await col.get(['b4-999', 'b0-0']);
    expect(got.vectors[1]).toEqual(randomVectors(1000, 4, 0).subarray(0, 4));
  });

  it('reaches recall@10 >= 0.98 on siftsmall with default settings', async () => {
    const sift = loadSiftSmall();
    const col = await db.createCollection('sift', { dim: sift.dim });
    await col.add(ids(10_000), sift.base);
    const results = await col.query(sift.queries);
    const flat = results.flatMap((r) => r.ids.map((id) => Number(id.slice(3))));
    expect(recallAtK(flat, sift.truth, 10)).toBeGreaterThanOrEqual(0.98);
  });
});

describe('bad input changes nothing', () => {
  let col: Collection;
  const probe = [[0.5, 0.5, 0.5, 0.5]];
  const state = async (): Promise<unknown> => ({ count: await col.count(), q: await col.query(probe, { k: 10 }) });

  beforeAll(async () => {
    col = await db.createCollection('guarded', { dim: 4, shards: 3 });
    await col.add(ids(30), randomVectors(30, 4, 9));
  });

  async function rejects(call: () => Promise<unknown>, kind: new (...a: never[]) => ShoalError, code: string): Promise<ShoalError> {
    const before = await state();
    const err = await call().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(kind);
    expect((err as ShoalError).code).toBe(code);
    expect(await state()).toEqual(before);
    return err as ShoalError;
  }

  it('a wrong dimension', async () => {
    await rejects(() => col.add(['n1'], [[1, 2, 3]]), DimensionMismatchError, 'SHOAL_DIMENSION_MISMATCH');
    await rejects(() => col.query([1, 2, 3, 4, 5]), DimensionMismatchError, 'SHOAL_DIMENSION_MISMATCH');
    await rejects(() => col.add(['n1', 'n2'], new Float32Array(4)), DimensionMismatchError, 'SHOAL_DIMENSION_MISMATCH');
  });

  it('NaN or an infinity', async () => {
    const err = await rejects(() => col.add(['n1', 'n2'], [[0, 0, 0, 0], [0, NaN, 0, 0]]), InvalidVectorError, 'SHOAL_INVALID_VECTOR');
    expect(err.details).toMatchObject({ row: 1, column: 1 });
    await rejects(() => col.query([[Infinity, 0, 0, 0]]), InvalidVectorError, 'SHOAL_INVALID_VECTOR');
  });

  it.each([0, -3, 2.5, 'ten'])('k = %s', async (k) => {
    await rejects(() => col.query(probe, { k: k as number }), InvalidArgumentError, 'SHOAL_INVALID_ARGUMENT');
  });

  it('bad ids: empty, not a string, repeated in one call', async () => {
    await rejects(() => col.add([''], [[1, 1, 1, 1]]), InvalidLabelError, 'SHOAL_INVALID_LABEL');
    await rejects(() => col.add([7 as unknown as string], [[1, 1, 1, 1]]), InvalidLabelError, 'SHOAL_INVALID_LABEL');
    await rejects(() => col.add(['z', 'z'], [[1, 1, 1, 1], [2, 2, 2, 2]]), InvalidLabelError, 'SHOAL_INVALID_LABEL');
  });

  it('an existing id, even in a batch whose other ids are new and on other shards', async () => {
    const err = await rejects(() => col.add([...ids(10, 'fresh'), 'id-3'], randomVectors(11, 4, 1)), AlreadyExistsError, 'SHOAL_ALREADY_EXISTS');
    expect(err.details).toMatchObject({ collection: 'guarded', ids: ['id-3'] });
  });

  it('unknown ids in delete and get, even beside known ones', async () => {
    const err = await rejects(() => col.delete(['id-1', 'ghost']), NotFoundError, 'SHOAL_NOT_FOUND');
    expect(err.details).toMatchObject({ ids: ['ghost'] });
    await rejects(() => col.get(['id-2', 'ghost']), NotFoundError, 'SHOAL_NOT_FOUND');
  });

  it('a bad filter', async () => {
    await rejects(() => col.query(probe, { filter: { ids: 'id-1' as unknown as string[] } }), InvalidArgumentError, 'SHOAL_INVALID_ARGUMENT');
  });
});

describe('collections by name', () => {
  it.each(['../escape', 'a/b', '', '.', '..', 'x'.repeat(129), 'sp ace', 'nul\0'])('refuses the name %j', async (name) => {
    await expect(db.createCollection(name, { dim: 2 })).rejects.toMatchObject({ code: 'SHOAL_INVALID_ARGUMENT' });
    expect(db.listCollections()).not.toContain(name);
  });

  it('refuses a second collection of the same name and an unknown name', async () => {
    await db.createCollection('once', { dim: 2 });
    await expect(db.createCollection('once', { dim: 2 })).rejects.toBeInstanceOf(AlreadyExistsError);
    expect(() => db.getCollection('never')).toThrow(NotFoundError);
  });

  it('get-or-create returns the same collection, and refuses different settings', async () => {
    const a = await db.getOrCreateCollection('goc', { dim: 3 });
    const b = await db.getOrCreateCollection('goc', { dim: 3 });
    expect(b).toBe(a);
    await expect(db.getOrCreateCollection('goc', { dim: 4 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('deletes a collection and frees its memory', async () => {
    const col = await db.createCollection('doomed', { dim: 8 });
    await col.add(ids(500), randomVectors(500, 8, 1));
    const before = native.totalBytes();
    await db.deleteCollection('doomed');
    expect(native.totalBytes()).toBeLessThan(before);
    expect(db.listCollections()).not.toContain('doomed');
    await expect(col.count()).rejects.toBeInstanceOf(NotFoundError);
    await expect(col.query([rows(randomVectors(1, 8, 2), 8)[0] as Float32Array])).rejects.toBeInstanceOf(NotFoundError);
    await expect(col.add(['x'], randomVectors(1, 8, 3))).rejects.toBeInstanceOf(NotFoundError);
    expect(native.totalBytes()).toBeLessThan(before);
  });
});

describe('a closed database', () => {
  it('refuses every call with ClosedError', async () => {
    const other = await Shoal.open({ threads: 1 });
    const col = await other.createCollection('c', { dim: 2 });
    await other.close();
    await expect(col.add(['a'], [[1, 2]])).rejects.toBeInstanceOf(ClosedError);
    await expect(col.query([1, 2])).rejects.toBeInstanceOf(ClosedError);
    expect(() => other.listCollections()).toThrow(ClosedError);
    await expect(other.close()).resolves.toBeUndefined();
  });
});

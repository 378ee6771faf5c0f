// The query coalescer against a fake batch runner whose batches end when the test says so.
import { describe, expect, it } from 'vitest';

import { COALESCE_MAX_ROWS, MERGED_MAX_ROWS, QueryCoalescer, type QueryShape } from '../../../src/coordinator/collection-core.js';

const DIM = 2;

/** A runner that records each batch and answers each row with its first component. */
function fakeRunner() {
  const batches: { rows: number; shape: QueryShape; firsts: number[]; finish: (err?: Error) => void }[] = [];
  const run = (queries: Float32Array, rows: number, shape: QueryShape): Promise<number[]> =>
    new Promise((resolve, reject) => {
      const firsts = Array.from({ length: rows }, (_, i) => queries[i * DIM] as number);
      batches.push({ rows, shape, firsts, finish: (err) => (err === undefined ? resolve(firsts) : reject(err)) });
    });
  return { run, batches };
}

const one = (value: number): Float32Array => Float32Array.of(value, 0);
const flush = (): Promise<void> => new Promise((done) => setImmediate(done));

describe('QueryCoalescer', () => {
  it('sends a lone query out at once, alone', async () => {
    const { run, batches } = fakeRunner();
    const c = new QueryCoalescer(run, DIM, 2);
    const result = c.query(one(7), { k: 10, ef: 64 }, true);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.rows).toBe(1);
    batches[0]?.finish();
    expect(await result).toEqual([7]);
  });

  it('merges queries that arrive while the pool is busy into one batch and answers each caller its own rows', async () => {
    const { run, batches } = fakeRunner();
    const c = new QueryCoalescer(run, DIM, 2);
    const first = [c.query(one(1), { k: 10, ef: 64 }, true), c.query(one(2), { k: 10, ef: 64 }, true)];
    const waiting = [3, 4, 5].map((v) => c.query(one(v), { k: 10, ef: 64 }, true));
    const twoRows = c.query(Float32Array.of(6, 0, 7, 0), { k: 10, ef: 64 }, true);
    expect(batches.map((b) => b.rows)).toEqual([1, 1]);
    batches[0]?.finish();
    await flush();
    expect(batches.map((b) => b.rows)).toEqual([1, 1, 5]);
    expect(batches[2]?.firsts).toEqual([3, 4, 5, 6, 7]);
    batches[1]?.finish();
    batches[2]?.finish();
    expect(await Promise.all(first)).toEqual([[1], [2]]);
    expect(await Promise.all(waiting)).toEqual([[3], [4], [5]]);
    expect(await twoRows).toEqual([6, 7]);
  });

  it('never merges queries of different k or ef', async () => {
    const { run, batches } = fakeRunner();
    const c = new QueryCoalescer(run, DIM, 1);
    const busy = c.query(one(0), { k: 1, ef: 1 }, true);
    const a = c.query(one(1), { k: 10, ef: 64 }, true);
    const b = c.query(one(2), { k: 5, ef: 64 }, true);
    const a2 = c.query(one(3), { k: 10, ef: 64 }, true);
    batches[0]?.finish();
    await busy;
    await flush();
    expect(batches[1]).toMatchObject({ rows: 2, shape: { k: 10, ef: 64 }, firsts: [1, 3] });
    batches[1]?.finish();
    await flush();
    expect(batches[2]).toMatchObject({ rows: 1, shape: { k: 5, ef: 64 }, firsts: [2] });
    batches[2]?.finish();
    expect([await a, await b, await a2]).toEqual([[1], [2], [3]]);
  });

  it('fails every caller of a merged batch with its error, and goes on with the next', async () => {
    const { run, batches } = fakeRunner();
    const c = new QueryCoalescer(run, DIM, 1);
    const busy = c.query(one(0), { k: 10, ef: 64 }, true);
    const merged = [c.query(one(1), { k: 10, ef: 64 }, true), c.query(one(2), { k: 10, ef: 64 }, true)];
    batches[0]?.finish();
    await busy;
    await flush();
    const later = c.query(one(9), { k: 10, ef: 64 }, true);
    batches[1]?.finish(new Error('budget'));
    for (const m of merged) await expect(m).rejects.toThrow('budget');
    await flush();
    expect(batches[2]?.firsts).toEqual([9]);
    batches[2]?.finish();
    expect(await later).toEqual([9]);
  });

  it('lets filtered queries and batches through without waiting, and caps a merged batch', async () => {
    const { run, batches } = fakeRunner();
    const c = new QueryCoalescer(run, DIM, 1);
    c.query(one(0), { k: 10, ef: 64 }, true);
    c.query(one(1), { k: 10, ef: 64 }, false);
    c.query(new Float32Array(COALESCE_MAX_ROWS * DIM), { k: 10, ef: 64 }, true);
    expect(batches.map((b) => b.rows)).toEqual([1, 1, COALESCE_MAX_ROWS]);
    const many = Array.from({ length: MERGED_MAX_ROWS + 3 }, (_, i) => c.query(one(i), { k: 10, ef: 64 }, true));
    for (const b of batches.slice(0, 3)) b.finish();
    await flush();
    expect(batches.slice(3).map((b) => b.rows)).toEqual([MERGED_MAX_ROWS]);
    batches[3]?.finish();
    await flush();
    expect(batches.slice(4).map((b) => b.rows)).toEqual([3]);
    batches[4]?.finish();
    expect((await Promise.all(many)).flat()).toEqual(Array.from({ length: MERGED_MAX_ROWS + 3 }, (_, i) => i));
  });
});

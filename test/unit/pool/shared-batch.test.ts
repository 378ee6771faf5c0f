import { describe, expect, it } from 'vitest';

import { copyRows, rowCount, SharedBatches } from '../../../src/pool/shared-batch.js';

const flat = Float32Array.from({ length: 12 }, (_, i) => i); // 4 rows x 3

describe('copyRows', () => {
  it('copies a contiguous range when every row is taken', () => {
    const into = new Float32Array(6);
    copyRows({ flat, dim: 3, rows: null }, 1, 2, into);
    expect([...into]).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it('gathers listed rows', () => {
    const into = new Float32Array(6);
    copyRows({ flat, dim: 3, rows: [3, 0, 2] }, 1, 2, into);
    expect([...into]).toEqual([0, 1, 2, 6, 7, 8]);
    expect(rowCount({ flat, dim: 3, rows: [3, 0, 2] })).toBe(3);
    expect(rowCount({ flat, dim: 3, rows: null })).toBe(4);
  });
});

describe('SharedBatches', () => {
  it('stages vectors and labels in one shared buffer', async () => {
    const b = new SharedBatches(1);
    const part = await b.stage({ flat, dim: 3, rows: null }, 2, 2, Uint32Array.of(7, 9));
    expect(part.vectors.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(part.labels.buffer).toBe(part.vectors.buffer);
    expect([...part.vectors]).toEqual([6, 7, 8, 9, 10, 11]);
    expect([...part.labels]).toEqual([7, 9]);
    part.release();
  });

  it('lends at most `count` buffers; the next waits for a release and reuses the same memory', async () => {
    const b = new SharedBatches(1);
    const first = await b.stage({ flat, dim: 3, rows: null }, 0, 2, Uint32Array.of(1, 2));
    let second: Awaited<ReturnType<SharedBatches['stage']>> | null = null;
    const pending = b.stage({ flat, dim: 3, rows: null }, 0, 1, Uint32Array.of(3)).then((p) => (second = p));
    await new Promise((r) => setImmediate(r));
    expect(second).toBeNull();
    const buffer = first.vectors.buffer;
    first.release();
    first.release(); // twice is once
    await pending;
    expect((second as unknown as { vectors: Float32Array }).vectors.buffer).toBe(buffer);
    expect(b.heldBytes).toBe(buffer.byteLength);
    (second as unknown as { release(): void }).release();
    b.dropIdle();
    expect(b.heldBytes).toBe(0);
  });
});

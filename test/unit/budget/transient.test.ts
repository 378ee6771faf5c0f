import { describe, expect, it } from 'vitest';

import { planTransientWait, queryRowBytes, rowsPerPart, transientPartBytes, writeRowBytes } from '../../../src/budget/transient.js';

const MiB = 2 ** 20;

describe('transient sizing', () => {
  it('a part is 1/16 of the limit, between 1 and 64 MiB', () => {
    expect(transientPartBytes(64 * MiB)).toBe(4 * MiB);
    expect(transientPartBytes(4 * MiB)).toBe(MiB);
    expect(transientPartBytes(Number.MAX_SAFE_INTEGER)).toBe(64 * MiB);
  });

  it('rows per part: as many as fit, at least one, at most all', () => {
    expect(rowsPerPart(1000, 100, 1000)).toBe(10);
    expect(rowsPerPart(5, 100, 1_000_000)).toBe(5);
    expect(rowsPerPart(1000, 10_000, 1000)).toBe(1);
    expect(rowsPerPart(7, 0, 1)).toBe(7);
  });

  it('a query row costs its vector and k labels and distances per shard; a written row its vector and label', () => {
    expect(queryRowBytes(128, 10_000, 2)).toBe(512 + 160_000);
    expect(writeRowBytes(128)).toBe(516);
  });

  it('waits only while other transient bytes are in flight, the request can fit at all, and before the deadline', () => {
    expect(planTransientWait(1000, 500, 10_000, 0, 100)).toEqual({ kind: 'wait', forKeys: [], untilMs: 100 });
    expect(planTransientWait(0, 500, 10_000, 0, 100).kind).toBe('reject');
    expect(planTransientWait(1000, 20_000, 10_000, 0, 100).kind).toBe('reject');
    expect(planTransientWait(1000, 500, 10_000, 100, 100).kind).toBe('reject');
  });
});

// The planning estimate must never be below what a segment really holds, including in a fresh
// process (this file's own), where glibc still mmaps the 2.6 MB lock table page-rounded.
import { describe, expect, it } from 'vitest';

import { native, nativeSync } from '../../src/native/binding.js';
import { randomVectors, range } from '../support/data.js';

describe('estimateBytes in a fresh process', () => {
  it.each([
    [1, 0],
    [100, 0],
    [1000, 0],
    [1000, 1000],
    [5000, 2500],
  ])('is an upper bound for capacity %i with %i elements, within 1%', (capacity, count) => {
    const h = nativeSync.createSegment({ dim: 128, space: 'l2', capacity });
    try {
      if (count > 0) nativeSync.addBatch(h, range(count), randomVectors(count, 128, capacity), false);
      const exact = native.segmentBytes(h);
      const estimate = native.estimateBytes({ dim: 128, M: 16, capacity, count }).totalBytes;
      expect(estimate).toBeGreaterThanOrEqual(exact);
      expect(estimate / exact).toBeLessThan(1.01);
      // The segment's own breakdown by part prices the same bytes.
      const p = native.segmentInfo(h).breakdown;
      expect(p.capacityBytes + p.elementBytes + p.fixedBytes + p.visitedBytes).toBe(estimate);
    } finally {
      nativeSync.freeSegment(h);
    }
  });
});

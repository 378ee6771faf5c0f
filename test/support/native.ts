/** Helpers for tests that look at native memory. */
import { native } from '../../src/native/binding.js';

/** Whether the allocator has counters to check against (glibc 2.33+). */
export const allocatorCountersAvailable = native.allocatorCounters().available;

/** Bytes the allocator reports in use (heap chunks + mmapped chunks). */
export function allocatorBytes(): number {
  const c = native.allocatorCounters();
  if (c.inUseBytes === null || c.mmappedBytes === null) {
    throw new Error('this allocator has no counters (allocatorCounters().available is false)');
  }
  return c.inUseBytes + c.mmappedBytes;
}

/** Runs `body` and returns what it changed in the allocator's bytes in use. */
export function allocatorDelta(body: () => void): number {
  const before = allocatorBytes();
  body();
  return allocatorBytes() - before;
}

export const sanitized = native.buildInfo().sanitized;

/** Helpers for tests that look at native memory. */
import { native } from '../../src/native/binding.js';

/** Bytes the allocator reports in use (heap chunks + mmapped chunks). */
export function allocatorBytes(): number {
  const c = native.allocatorCounters();
  return c.inUseBytes + c.mmappedBytes;
}

/** Runs `body` and returns what it changed in the allocator's bytes in use. */
export function allocatorDelta(body: () => void): number {
  const before = allocatorBytes();
  body();
  return allocatorBytes() - before;
}

export const sanitized = native.buildInfo().sanitized;

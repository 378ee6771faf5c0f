/** Budget invariants, asserted after every step of the budget tests. */
import { expect } from 'vitest';

import type { Shoal } from '../../src/index.js';

/**
 * accounted <= limit; accounted = resident + reserved; no overshoot; and the memory that really
 * exists (the addon's own count plus id tables) is covered by what is accounted. When no call
 * is in flight (`quiescent`), resident bytes equal that memory exactly; while calls run on
 * other threads, their transient allocations are covered by reservations instead.
 */
export async function expectBudgetInvariants(db: Shoal, quiescent = true): Promise<void> {
  if (quiescent) await db.idle();
  const s = db.stats();
  expect(s.usedBytes).toBeLessThanOrEqual(s.limitBytes);
  expect(s.usedBytes).toBe(s.residentBytes + s.reservedBytes);
  if (quiescent) expect(s.residentBytes).toBe(s.nativeBytes + s.idTableBytes);
  else expect(s.nativeBytes + s.idTableBytes).toBeLessThanOrEqual(s.usedBytes);
  expect(s.overshoots).toBe(0);
  expect(s.peakBytes).toBeGreaterThanOrEqual(s.usedBytes);
}

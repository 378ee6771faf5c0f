/** Budget invariants, asserted after every step of the budget tests. */
import { expect } from 'vitest';

import type { Shoal } from '../../src/index.js';

/** accounted <= limit; accounted = resident + reserved; resident = the addon's bytes + id tables; no overshoot. */
export function expectBudgetInvariants(db: Shoal): void {
  const s = db.stats();
  expect(s.usedBytes).toBeLessThanOrEqual(s.limitBytes);
  expect(s.usedBytes).toBe(s.residentBytes + s.reservedBytes);
  expect(s.residentBytes).toBe(s.nativeBytes + s.idTableBytes);
  expect(s.overshoots).toBe(0);
  expect(s.peakBytes).toBeGreaterThanOrEqual(s.usedBytes);
}

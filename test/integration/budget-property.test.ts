// Random sequences of operations against a small budget. After every step: the budget
// invariants hold, and every query equals a brute-force answer over the acknowledged data.
// After close, native memory is back to zero. The seed is in the test name; rerun one with
// SHOAL_PROPERTY_SEED=<seed>.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { BudgetExceededError, Shoal } from '../../src/index.js';
import { native } from '../../src/native/binding.js';
import { expectBudgetInvariants } from '../support/budget.js';
import { bruteForceKnn } from '../support/data.js';
import { tempDir } from '../support/db.js';

const DIM = 8;
const NAMES = ['a', 'b', 'c', 'd'] as const;
const SEED = Number(process.env['SHOAL_PROPERTY_SEED'] ?? Date.now() % 1_000_000);
const RUNS = Number(process.env['SHOAL_PROPERTY_RUNS'] ?? 40);
/** Totals over all runs, to show the sequences really exercised the budget. */
const seen = { evictions: 0, loads: 0, queries: 0 };

type Command =
  | { kind: 'create'; name: number }
  | { kind: 'add'; name: number; count: number; seed: number }
  | { kind: 'delete'; name: number; fraction: number }
  | { kind: 'query'; name: number; seed: number }
  | { kind: 'unload'; name: number }
  | { kind: 'load'; name: number }
  | { kind: 'configure'; factor: number }
  | { kind: 'pin'; name: number }
  | { kind: 'unpin'; name: number }
  | { kind: 'drop'; name: number };

const name = fc.integer({ min: 0, max: NAMES.length - 1 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('create' as const), name }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), name, count: fc.integer({ min: 1, max: 150 }), seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), name, fraction: fc.double({ min: 0.05, max: 0.5, noNaN: true }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('query' as const), name, seed: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unload' as const), name }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('load' as const), name }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('configure' as const), factor: fc.double({ min: 1.1, max: 5, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pin' as const), name }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unpin' as const), name }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), name }) },
);

function vectors(count: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: count * DIM }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  });
}

/** About what one small collection holds (its 2.6 MB of fixed hnswlib locks dominate). */
const UNIT = 3 * 2 ** 20;

async function runSequence(commands: readonly Command[]): Promise<void> {
  const dir = tempDir();
  // Room for about two small collections: using a third evicts, pins can make loads fail.
  const db = await Shoal.open({ path: dir.path, threads: 2, memoryLimitBytes: Math.floor(UNIT * 1.9), maintenanceIntervalMs: 0 });
  const model = new Map<string, Map<string, Float32Array>>();
  let nextId = 0;
  for (const n of ['a', 'b']) {
    await db.createCollection(n, { dim: DIM, M: 8, efConstruction: 64 });
    model.set(n, new Map());
  }
  const budgetRefusal = (e: unknown): void => {
    if (!(e instanceof BudgetExceededError)) throw e;
  };
  try {
    for (const c of commands) {
      if (c.kind === 'configure') {
        await db.configure({ memoryLimitBytes: Math.floor(UNIT * c.factor) }).catch(budgetRefusal);
        await expectBudgetInvariants(db);
        continue;
      }
      const n = NAMES[c.name] as string;
      const data = model.get(n);
      if (c.kind === 'create') {
        if (data === undefined) {
          await db.createCollection(n, { dim: DIM, M: 8, efConstruction: 64 });
          model.set(n, new Map());
        }
      } else if (data !== undefined) {
        const col = db.getCollection(n);
        if (c.kind === 'add') {
          const ids = Array.from({ length: c.count }, () => `v${nextId++}`);
          const v = vectors(c.count, c.seed);
          const before = await col.count();
          try {
            await col.add(ids, v);
            ids.forEach((id, i) => data.set(id, v.subarray(i * DIM, (i + 1) * DIM)));
          } catch (e) {
            budgetRefusal(e);
            expect(await col.count().catch(() => before)).toBe(before); // a refused add changes nothing
          }
        } else if (c.kind === 'delete') {
          const doomed = [...data.keys()].filter((_, i) => i % Math.max(1, Math.round(1 / c.fraction)) === 0);
          if (doomed.length > 0) {
            await col.delete(doomed).then(() => doomed.forEach((id) => data.delete(id)), budgetRefusal);
          }
        } else if (c.kind === 'query') {
          const q = vectors(2, c.seed);
          const k = 5;
          const got = await col.query(q, { k, ef: 1000 }).catch((e: unknown) => (budgetRefusal(e), null));
          if (got !== null) {
            const ids = [...data.keys()];
            const base = new Float32Array(ids.length * DIM);
            ids.forEach((id, i) => base.set(data.get(id) as Float32Array, i * DIM));
            const truth = bruteForceKnn('l2', base, Array.from(ids.keys()), q, DIM, k);
            got.forEach((r, i) => expect(r.ids).toEqual((truth[i] as number[]).map((j) => ids[j])));
            seen.queries++;
          }
        } else if (c.kind === 'unload') {
          await col.unload();
          expect(col.resident).toBe(false);
          col.unpin();
        } else if (c.kind === 'load') {
          await col.load().catch(budgetRefusal);
        } else if (c.kind === 'pin') {
          await col.pin().catch(budgetRefusal);
        } else if (c.kind === 'unpin') {
          col.unpin();
        } else if (c.kind === 'drop') {
          await db.deleteCollection(n);
          model.delete(n);
        }
      }
      await expectBudgetInvariants(db);
    }
    const s = db.stats();
    seen.evictions += Object.values(s.evictions).reduce((a, b) => a + b, 0);
    seen.loads += s.loads;
  } finally {
    await db.close();
    dir.remove();
  }
  expect(native.totalBytes()).toBe(0);
}

describe('the budget under random operation sequences', () => {
  it(`keeps every invariant and answers exactly (seed ${SEED}, ${RUNS} runs)`, async () => {
    await fc.assert(fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 30 }), runSequence), {
      seed: SEED,
      numRuns: RUNS,
      endOnFailure: true,
    });
    expect(seen.evictions).toBeGreaterThan(0);
    expect(seen.loads).toBeGreaterThan(0);
    expect(seen.queries).toBeGreaterThan(RUNS / 2);
  }, 180_000);
});

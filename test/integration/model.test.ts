// The model-based concurrent test (issue 12): random clients against a database whose budget
// cannot hold every collection, checked against a JS model (test/support/model-run.mjs). It runs
// in a child process so a deadlock fails this test without keeping the suite alive. Longer runs:
// node scripts/model-soak.mjs --seeds 20 --ops 3000. SHOAL_MODEL_SEED picks another seed here.
import { describe, expect, it } from 'vitest';

import { runChild } from '../support/child.js';

const RUNNER = new URL('../support/model-run.mjs', import.meta.url).pathname;
const SEED = Number(process.env['SHOAL_MODEL_SEED'] ?? 20_240_612);
const OPS = 3000;

describe('model-based concurrent clients', () => {
  it(`every call settles and matches the model; budget, ledger and durability hold (seed ${SEED}, ${OPS} ops, 6 clients)`, async () => {
    const result = (await runChild(RUNNER, ['--seed', String(SEED), '--ops', String(OPS), '--clients', '6', '--bound-ms', '15000'], 90_000)) as {
      violations: unknown[];
      summary: { finalCheck?: string; counts?: Record<string, number> };
    };
    expect(result.violations).toEqual([]);
    expect(result.summary.finalCheck).toBe('done');
    // The run did exercise what it claims to.
    for (const op of ['query', 'add', 'delete', 'unload', 'configure', 'recreate']) expect(result.summary.counts?.[op] ?? 0, op).toBeGreaterThan(0);
  }, 120_000);
});

// Eviction racing with queries on both pool threads: two collections under a budget that holds
// one, queried alternately and concurrently so they evict each other constantly.
import { describe, expect, it } from 'vitest';

import { Shoal } from '../../src/index.js';
import { native } from '../../src/native/binding.js';
import { expectBudgetInvariants } from '../support/budget.js';
import { randomVectors } from '../support/data.js';
import { tempDir } from '../support/db.js';

describe('eviction racing with queries', () => {
  it('never crashes and never answers wrongly while collections evict each other', async () => {
    const dim = 16;
    const dir = tempDir();
    const db = await Shoal.open({ path: dir.path, threads: 2, maintenanceIntervalMs: 0 });
    const names = ['left', 'right'];
    const probes = randomVectors(4, dim, 7);
    const expected = new Map<string, unknown>();
    for (const [i, n] of names.entries()) {
      const col = await db.createCollection(n, { dim });
      await col.add(Array.from({ length: 5000 }, (_, j) => `${n}-${j}`), randomVectors(5000, dim, i));
      expected.set(n, await col.query(probes, { k: 5, ef: 200 }));
    }
    // Room for one collection (and search scratch), not two, at the size they have when they
    // are reloaded (smaller than written: no label lock table until a write).
    await db.unloadAll();
    for (const n of names) await db.getCollection(n).load();
    await db.configure({ memoryLimitBytes: Math.floor(db.stats().usedBytes * 0.75) });
    let evictions = 0;
    db.on('evicted', () => evictions++);

    const worker = async (offset: number): Promise<number> => {
      let done = 0;
      for (let round = 0; round < 30; round++) {
        const n = names[(round + offset) % 2] as string;
        const col = db.getCollection(n);
        const got = await col.query(probes, { k: 5, ef: 200 });
        expect(got).toEqual(expected.get(n));
        if (round % 7 === 3) await col.unload();
        await expectBudgetInvariants(db, false);
        done++;
      }
      return done;
    };
    const counts = await Promise.all([worker(0), worker(1), worker(1)]);
    expect(counts).toEqual([30, 30, 30]);
    expect(evictions).toBeGreaterThan(10);
    await expectBudgetInvariants(db);
    await db.close();
    dir.remove();
    expect(native.totalBytes()).toBe(0);
  });
});

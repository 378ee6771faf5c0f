// Queries running on both pool threads while writes change the same collection: no crash,
// every answer consistent with what was acknowledged.
import { describe, expect, it } from 'vitest';

import { Shoal } from '../../src/index.js';
import { native } from '../../src/native/binding.js';
import { randomVectors } from '../support/data.js';

describe('queries during inserts and deletes', () => {
  it('always find the stable vectors and never return an id deleted before they began', async () => {
    const dim = 24;
    const db = await Shoal.open({ threads: 2 });
    const col = await db.createCollection('busy', { dim, shards: 2, efSearch: 64 });
    const stable = randomVectors(500, dim, 1);
    const stableIds = Array.from({ length: 500 }, (_, i) => `s${i}`);
    await col.add(stableIds, stable);

    const deleted = new Set<string>();
    let writing = true;
    const writer = (async () => {
      for (let round = 0; round < 12; round++) {
        const batch = Array.from({ length: 400 }, (_, i) => `r${round}-${i}`);
        await col.add(batch, randomVectors(400, dim, 100 + round));
        const doomed = batch.filter((_, i) => i % 3 === 0);
        await col.delete(doomed);
        for (const id of doomed) deleted.add(id);
        await col.upsert(batch.filter((_, i) => i % 3 !== 0).slice(0, 49), randomVectors(49, dim, 200 + round));
      }
      writing = false;
    })();

    let queries = 0;
    const readers = [0, 1].map(async (r) => {
      while (writing) {
        const pick = (queries * 7 + r * 131) % 500;
        const deletedBefore = new Set(deleted);
        const [result] = await col.query(stable.subarray(pick * dim, (pick + 1) * dim), { k: 5 });
        expect(result?.ids[0]).toBe(`s${pick}`);
        expect(result?.distances[0]).toBe(0);
        for (const id of result?.ids ?? []) expect(deletedBefore.has(id)).toBe(false);
        queries++;
      }
    });
    await Promise.all([writer, ...readers]);
    expect(queries).toBeGreaterThan(10);
    expect(await col.count()).toBe(500 + 12 * (400 - 134));
    await db.close();
    expect(native.totalBytes()).toBe(0);
  });
});

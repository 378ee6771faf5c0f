// The process-memory side of the budget (issue 13): transient bytes reserved and released,
// calls too large for one part cut into parts with the same results, write batches staged in
// shared memory, and stats().memory.
import { describe, expect, it } from 'vitest';

import { Shoal } from '../../src/index.js';
import { expectBudgetInvariants } from '../support/budget.js';
import { randomVectors } from '../support/data.js';
import { tempDirsPerTest } from '../support/db.js';

const dir = tempDirsPerTest();
const MiB = 2 ** 20;
const ids = (n: number, prefix = '') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('memory beyond the index bytes', () => {
  it('a query batch whose k x queries exceed a part runs in parts with the results of one-row calls', async () => {
    // 16 MiB limit: a part is 1 MiB; 40 queries x k 2,000 x 2 shards x 8 bytes = 1.3 MB, so 2+ parts.
    const db = await Shoal.open({ path: dir(), threads: 2, memoryLimitBytes: 16 * MiB, maintenanceIntervalMs: 0 });
    try {
      const col = await db.createCollection('q', { dim: 8, shards: 2, efSearch: 64 });
      await col.add(ids(3000), randomVectors(3000, 8, 1));
      const queries = randomVectors(40, 8, 2);
      const batch = await col.query(queries, { k: 2000 });
      expect(batch).toHaveLength(40);
      for (let i = 0; i < 40; i += 13) {
        const [one] = await col.query(queries.subarray(i * 8, (i + 1) * 8), { k: 2000 });
        expect(batch[i]?.ids).toEqual(one?.ids);
        expect([...(batch[i]?.distances ?? [])]).toEqual([...(one?.distances ?? [])]);
      }
      expect(db.stats().memory.transientBytes).toBe(0);
      expect(db.stats().peakBytes).toBeLessThanOrEqual(16 * MiB);
      await expectBudgetInvariants(db);
    } finally {
      await db.close();
    }
  });

  it('a write larger than a part, split over shards, is applied in parts, logged whole and recovered', async () => {
    const path = dir();
    const n = 6000;
    const vectors = randomVectors(n, 32, 3);
    // 16 MiB limit: a write part is 256 KiB, about 2,000 rows of 32 floats.
    let db = await Shoal.open({ path, threads: 2, memoryLimitBytes: 16 * MiB, maintenanceIntervalMs: 0 });
    try {
      const col = await db.createCollection('w', { dim: 32, shards: 2 });
      await col.add(ids(n), vectors);
      expect(await col.count()).toBe(n);
      const got = await col.get(['0', '2999', '5999']);
      expect([...(got.vectors[1] as Float32Array)]).toEqual([...vectors.subarray(2999 * 32, 3000 * 32)]);
      const stats = db.stats();
      expect(stats.memory.transientBytes).toBe(0);
      expect(stats.memory.stagingBytes).toBeGreaterThan(0);
      expect(stats.memory.stagingBytes).toBeLessThanOrEqual(2 * 256 * 1024);
      await expectBudgetInvariants(db);
    } finally {
      // Without a flush: the log alone holds the rows.
      await db.close();
    }
    db = await Shoal.open({ path, threads: 2, maintenanceIntervalMs: 0 });
    try {
      const col = db.getCollection('w');
      expect(await col.count()).toBe(n);
      const got = await col.get(['5999']);
      expect([...(got.vectors[0] as Float32Array)]).toEqual([...vectors.subarray(5999 * 32)]);
    } finally {
      await db.close();
    }
  });

  it('stats().memory: RSS, worker heaps, the allocator beside the exact native bytes', async () => {
    const db = await Shoal.open({ path: dir(), threads: 2, memoryLimitBytes: 64 * MiB, maintenanceIntervalMs: 0 });
    try {
      const col = await db.createCollection('s', { dim: 8, shards: 1 });
      await col.add(ids(200), randomVectors(200, 8, 4));
      await col.query(randomVectors(1, 8, 5), { k: 5 });
      const m = db.stats().memory;
      expect(m.limitBytes).toBe(64 * MiB);
      expect(m.accountedBytes).toBe(db.stats().usedBytes);
      expect(m.nativeBytes).toBeGreaterThan(0);
      expect(m.rssBytes).toBeGreaterThan(m.nativeBytes + m.idTableBytes);
      expect(m.unaccountedBytes).toBe(m.rssBytes - m.nativeBytes - m.idTableBytes);
      expect(m.mainHeapUsedBytes).toBeGreaterThan(0);
      // Every task reports its worker's heap; at least one worker ran one.
      expect(m.workerHeaps.length).toBeGreaterThan(0);
      for (const h of m.workerHeaps) expect(h.totalBytes).toBeGreaterThanOrEqual(h.usedBytes);
      expect(m.workerHeapTotalBytes).toBe(m.workerHeaps.reduce((n, h) => n + h.totalBytes, 0));
      if (process.platform === 'linux' && m.allocator !== null) {
        expect(m.allocator.mmapThresholdBytes).toBe(128 * 1024);
        expect(m.allocator.freeBytes).toBeGreaterThanOrEqual(m.allocator.untrimmedFreeBytes);
      }
    } finally {
      await db.close();
    }
  });

  it('col.unload() returns the freed memory to the OS at once, whatever the slack', async () => {
    const { native } = await import('../../src/native/binding.js');
    // 2 GiB: the slack is 64 MiB, so without the unload's own trim this shard's memory would stay.
    const db = await Shoal.open({ path: dir(), threads: 2, memoryLimitBytes: 2048 * MiB, maintenanceIntervalMs: 0 });
    try {
      if (native.allocatorState() === null) return; // not glibc: nothing to trim
      const col = await db.createCollection('t', { dim: 64, shards: 1 });
      await col.add(ids(4000), randomVectors(4000, 64, 6));
      await col.unload();
      // Threads may free a little between the trim and this read; the shard held 2+ MB of heap.
      expect((native.allocatorState() as { untrimmedFreeBytes: number }).untrimmedFreeBytes).toBeLessThan(256 * 1024);
    } finally {
      await db.close();
    }
  });

  it('maintain() returns the allocator free memory beyond the slack', async () => {
    const { native } = await import('../../src/native/binding.js');
    const db = await Shoal.open({ path: dir(), threads: 2, memoryLimitBytes: 32 * MiB, maintenanceIntervalMs: 0 });
    try {
      if (native.allocatorState() === null) return;
      const col = await db.createCollection('t', { dim: 64, shards: 1 });
      await col.add(ids(4000), randomVectors(4000, 64, 6));
      await col.delete(ids(2000));
      await col.query(randomVectors(8, 64, 7), { k: 500 });
      await db.maintain();
      // The slack at 32 MiB is 1 MiB: after maintain, at most that much freed memory is untrimmed.
      expect((native.allocatorState() as { untrimmedFreeBytes: number }).untrimmedFreeBytes).toBeLessThanOrEqual(MiB);
    } finally {
      await db.close();
    }
  });
});

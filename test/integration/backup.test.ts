// db.backup(): a point-in-time copy taken while the database serves. Concurrent writers,
// flushes and unloads run through the backup; the copy must hold, for every writer, exactly the
// state after a prefix of its writes that includes every write acknowledged before backup()
// was called and at most the one write in flight then: no write begun after the call and no
// batch in part (each batch spans several shards).
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { AbortError, InvalidArgumentError, Shoal, type Collection, type ProgressEvent } from '../../src/index.js';
import { randomVectors, rng } from '../support/data.js';
import { tempDirsPerTest } from '../support/db.js';

const dir = tempDirsPerTest();
const DIM = 8;
const IDS_PER_WRITER = 12;

/** Writer w's step s: upsert all its ids with value s, except every 4th step deletes half of them. */
function step(w: number, s: number): { kind: 'upsert' | 'delete'; ids: string[] } {
  const all = Array.from({ length: IDS_PER_WRITER }, (_, i) => `w${w}-${i}`);
  return s % 4 === 3 ? { kind: 'delete', ids: all.slice(0, IDS_PER_WRITER / 2) } : { kind: 'upsert', ids: all };
}

/** The state of writer w's ids after its first `p` steps: id -> value. */
function modelAfter(w: number, p: number): Map<string, number> {
  const state = new Map<string, number>();
  for (let s = 0; s < p; s++) {
    const { kind, ids } = step(w, s);
    for (const id of ids) {
      if (kind === 'delete') state.delete(id);
      else state.set(id, s);
    }
  }
  return state;
}

async function stateOf(col: Collection, w: number): Promise<Map<string, number>> {
  const state = new Map<string, number>();
  for (let i = 0; i < IDS_PER_WRITER; i++) {
    const id = `w${w}-${i}`;
    const got = await col.get([id]).catch(() => null);
    if (got === null) continue;
    const v = got.vectors[0] as Float32Array;
    // Every component of a row is the step's value: a torn row would show two values.
    expect(new Set(v)).toEqual(new Set([v[0]]));
    state.set(id, v[0] as number);
  }
  return state;
}

describe('db.backup', () => {
  it('under concurrent writers, flushes and unloads holds exactly the writes acknowledged before the call', async () => {
    const path = dir();
    const dest = join(dir(), 'copy');
    const db = await Shoal.open({ path, threads: 2 });
    const col = await db.createCollection('c', { dim: DIM, shards: 4, M: 8, efConstruction: 32 });
    // Bulk that makes the copy take a while, flushed so that segment files exist to copy.
    await col.add(Array.from({ length: 4000 }, (_, i) => `bulk${i}`), randomVectors(4000, DIM, 1));
    // A second collection: the point in time is one for the whole database.
    const other = await db.createCollection('d', { dim: DIM, shards: 2, M: 8, efConstruction: 32 });
    await db.flush();

    const writers = 4;
    const target = (w: number): string => (w < 2 ? 'c' : 'd');
    const colOf = (w: number): Collection => (w < 2 ? col : other);
    const acked = new Array<number>(writers).fill(0);
    let stop = false;
    let backupCalled = false;
    const ackedAtCall: number[] = [];
    const loops = Array.from({ length: writers }, async (_, w) => {
      for (let s = 0; !stop; s++) {
        const { kind, ids } = step(w, s);
        if (kind === 'delete') await colOf(w).delete(ids.filter((id) => modelAfter(w, s).has(id)));
        else await colOf(w).upsert(ids, new Float32Array(ids.length * DIM).fill(s));
        acked[w] = s + 1;
        if (backupCalled && acked.every((a, i) => a >= (ackedAtCall[i] as number) + 8)) stop = true;
      }
    });
    // Flushes replace shard files and remove the old generation; unloads save and reload.
    // Those that end while the backup runs test that it keeps the files it copies.
    const churn = (async () => {
      const next = rng(7);
      while (!stop) {
        const r = next();
        if (r < 0.5) await db.flush();
        else await (r < 0.75 ? col : other).unload();
      }
    })();
    // Let every writer get some writes in first.
    while (acked.some((a) => a < 10)) await new Promise((r) => setImmediate(r));
    ackedAtCall.push(...acked);
    const backup = db.backup(dest);
    backupCalled = true;
    // Started after the backup fixed its point in time and before it copies a byte: a flush that
    // replaces every shard's files and an unload that saves and frees one collection run
    // beside the copy, whichever finishes first.
    const beside = [db.flush(), col.unload()];
    const report = await backup;
    await Promise.all(beside);
    await Promise.all([...loops, churn]);
    await db.close();

    expect(report.collections).toBe(2);
    expect(report.files).toBeGreaterThan(0);
    const copy = await Shoal.open({ path: dest, threads: 2 });
    const c2 = copy.getCollection('c');
    const expectedCount: Record<string, number> = { c: 4000, d: 0 };
    for (let w = 0; w < writers; w++) {
      const got = await stateOf(copy.getCollection(target(w)), w);
      const a = ackedAtCall[w] as number;
      // The write in flight at the call (if it had been applied) may be in; nothing later is.
      const matches = [a, a + 1].filter((p) => JSON.stringify([...modelAfter(w, p)].sort()) === JSON.stringify([...got].sort()));
      expect(matches.length, `writer ${w}: state ${JSON.stringify([...got])} acked ${a}`).toBeGreaterThan(0);
      expectedCount[target(w)] = (expectedCount[target(w)] as number) + modelAfter(w, matches[0] as number).size;
    }
    expect(await c2.count()).toBe(expectedCount['c']);
    expect(await copy.getCollection('d').count()).toBe(expectedCount['d']);
    const bulk = await c2.get(['bulk0', 'bulk3999']);
    const source = randomVectors(4000, DIM, 1);
    expect(Array.from(bulk.vectors[0] as Float32Array)).toEqual(Array.from(source.subarray(0, DIM)));
    expect(Array.from(bulk.vectors[1] as Float32Array)).toEqual(Array.from(source.subarray(3999 * DIM)));
    await copy.close();
  });

  it('reports progress in bytes up to the total, as events and to onProgress', async () => {
    const path = dir();
    const dest = join(dir(), 'copy');
    const db = await Shoal.open({ path, threads: 1 });
    const col = await db.createCollection('p', { dim: 16, shards: 2 });
    await col.add(Array.from({ length: 500 }, (_, i) => `p${i}`), randomVectors(500, 16, 3));
    await db.flush();
    await col.add(['late'], randomVectors(1, 16, 4)); // in the log only
    const events: ProgressEvent[] = [];
    const told: ProgressEvent[] = [];
    db.on('progress', (e) => events.push(e));
    const report = await db.backup(dest, { onProgress: (e) => told.push(e) });
    expect(told).toEqual(events);
    expect(events[0]).toEqual({ phase: 'backup', done: 0, total: report.bytes });
    expect(events[events.length - 1]).toEqual({ phase: 'backup', done: report.bytes, total: report.bytes });
    for (let i = 1; i < events.length; i++) expect((events[i] as ProgressEvent).done).toBeGreaterThanOrEqual((events[i - 1] as ProgressEvent).done);
    expect(report.files).toBe(7); // 2 segments, 2 id files, 2 metadata files, 1 log file
    await db.close();
    const copy = await Shoal.open({ path: dest, threads: 1 });
    expect(copy.recovery.replayedRecords).toBe(1);
    expect(await copy.getCollection('p').count()).toBe(501);
    await copy.close();
  });

  it('refuses a destination that is not empty or lies inside the data directory, and removes an aborted copy', async () => {
    const path = dir();
    const db = await Shoal.open({ path, threads: 1 });
    const col = await db.createCollection('a', { dim: 4 });
    await col.add(['x'], [[1, 2, 3, 4]]);
    await db.flush();
    const full = dir();
    writeFileSync(join(full, 'something'), 'x');
    await expect(db.backup(full)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(db.backup(join(path, 'inside'))).rejects.toThrow(/inside the data directory/);
    await expect(db.backup(join(path, '..inside'))).rejects.toThrow(/inside the data directory/);
    await expect(db.backup(path)).rejects.toThrow(/inside the data directory/);
    expect(existsSync(join(path, 'inside'))).toBe(false);

    const controller = new AbortController();
    controller.abort();
    const made = dir();
    await expect(db.backup(made, { signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
    expect(readdirSync(made)).toEqual([]); // a directory the caller made stays, emptied
    const fresh = join(dir(), 'new');
    await expect(db.backup(fresh, { signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
    expect(existsSync(fresh)).toBe(false);
    await db.close();
  });

  it('an unlogged database is flushed first and the copy holds every write acknowledged before the call', async () => {
    const path = dir();
    const dest = join(dir(), 'copy');
    const db = await Shoal.open({ path, threads: 1, durability: 'unlogged' });
    const col = await db.createCollection('u', { dim: 4, shards: 2 });
    await col.add(['a', 'b', 'c'], [[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]]);
    await db.backup(dest);
    await col.add(['d'], [[4, 4, 4, 4]]);
    await db.close();
    const copy = await Shoal.open({ path: dest, threads: 1 });
    expect(await copy.getCollection('u').count()).toBe(3);
    await copy.close();
  });

  it('a collection deleted during the backup is still copied whole', async () => {
    const path = dir();
    const dest = join(dir(), 'copy');
    const db = await Shoal.open({ path, threads: 1 });
    const col = await db.createCollection('gone', { dim: 4, shards: 2 });
    await col.add(Array.from({ length: 300 }, (_, i) => `g${i}`), randomVectors(300, 4, 9));
    await db.flush();
    const backup = db.backup(dest);
    const deleted = db.deleteCollection('gone');
    await Promise.all([backup, deleted]);
    expect(db.listCollections()).toEqual([]);
    await db.close();
    const copy = await Shoal.open({ path: dest, threads: 1 });
    expect(await copy.getCollection('gone').count()).toBe(300);
    await copy.close();
  });
});


// Issue 12's lifecycle findings, one test each, through the public API only. Scenarios that can
// deadlock (or need another user id) run in a child process (test/fixtures/lifecycle-child.mjs)
// that reports how each call ended; every call has a bound, so a hang fails fast with its name.
import { chownSync, copyFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { ClosedError, CorruptionError, InvalidArgumentError, InvalidVectorError, NotFoundError, Shoal, ShoalError } from '../../src/index.js';
import { runChild } from '../support/child.js';
import { tempDir } from '../support/db.js';
import { outcome, settleWithin } from '../support/settle.mjs';
// @ts-expect-error: a plain .mjs fixture shared with the child process
import { ids, row, vectors } from '../fixtures/lifecycle-child.mjs';

const CHILD = new URL('../fixtures/lifecycle-child.mjs', import.meta.url).pathname;
/** Per call, inside the child; the child as a whole gets more. */
const BOUND_MS = 10_000;
const CHILD_MS = 50_000;

const vecs = vectors as (n: number, dim: number, seed: number) => Float32Array;
const idList = ids as (prefix: string, n: number, start?: number) => string[];
const rowOf = row as (flat: Float32Array, dim: number, i: number) => number[];

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
function dir(): string {
  const d = tempDir('shoal-faults-');
  cleanups.push(d.remove);
  return d.path;
}

function scenario(name: string, path: string, extra: readonly string[] = [], asNobody = false): Promise<Record<string, unknown>> {
  // Root ignores file modes: the permission scenarios run as 'nobody' on a directory it owns.
  const nobody = asNobody && process.getuid?.() === 0;
  if (nobody) chownSync(path, 65534, 65534);
  return runChild(CHILD, [name, path, ...extra], CHILD_MS, {
    env: { ...process.env, SHOAL_HANG_MS: String(BOUND_MS) },
    ...(nobody ? { uid: 65534, gid: 65534 } : {}),
  });
}

describe('lifecycle under concurrency (issue 12)', () => {
  it('F1: col.unload() racing col.add() on a resident collection: both settle, the add is kept, other adds and close settle', async () => {
    expect(await scenario('unloadAdd1', dir())).toEqual({ unload: 'ok', add: 'ok', otherAdd: 'ok', close: 'ok', newIdsBack: true, otherCount: 510 });
  }, 60_000);

  it('F1: db.unloadAll() racing col.add(): both settle, the add is kept, other adds and close settle', async () => {
    expect(await scenario('unloadAllAdd', dir())).toEqual({ unload: 'ok', add: 'ok', otherAdd: 'ok', close: 'ok', newIdsBack: true, otherCount: 510 });
  }, 60_000);

  it('F2: col.unload() while queries and gets run: every call resolves with the right result and the unload completes', async () => {
    const result = await scenario('unloadReaders', dir());
    const fine = { unload: 'ok', unloadOther: 'ok', failed: [] };
    expect(result).toEqual({ rounds: Array.from({ length: 6 }, () => fine), close: 'ok' });
  }, 120_000);

  it('F3: db.flush(), a write to one shard of a 2-shard collection and a budget eviction of its other shard all settle', async () => {
    const result = (await scenario('flushWriteEvict', dir())) as { rounds: { flush: string; write: string; load: string }[]; close: string; twoEvictions: boolean };
    // What F3 is about: nothing waits forever. The write is the first to a freshly loaded
    // segment, so it reserves hnswlib's label lock table (about 2.7 MB here), more than this
    // limit can ever give it: a typed refusal is the right answer, a hang was the bug.
    expect(result.rounds).toHaveLength(3);
    for (const round of result.rounds) {
      expect(round.flush).toBe('ok');
      expect(round.load).toBe('ok');
      expect(['ok', 'rejected BudgetExceededError SHOAL_BUDGET_EXCEEDED']).toContain(round.write);
    }
    expect(result.close).toBe('ok');
    expect(result.twoEvictions).toBe(true);
  }, 60_000);

  it('F4: deleteCollection(x) racing createCollection(x): the create waits, the new x works across reopen, the ledger stays exact', async () => {
    const r = await scenario('deleteCreate', dir());
    expect(r).toMatchObject({ delete: 'ok', create: 'ok', add: 'ok', query: 'ok', count: 300, flush: 'ok', close: 'ok', reopen: 'ok' });
    expect(r).toMatchObject({ reopenedCount: 300, reopenedVectorsExact: true, reopenedQuery: ['new-1'] });
    for (const key of ['ledger', 'reopenedLedger'] as const) {
      const l = r[key] as { used: number; resident: number; reserved: number; perCollection: number; native: number };
      expect(l.used, key).toBe(l.resident + l.reserved);
      expect(l.resident, key).toBe(l.native);
      // Per-collection bytes include the write headroom a shard keeps reserved.
      expect(l.perCollection, key).toBeGreaterThanOrEqual(l.resident);
      expect(l.perCollection, key).toBeLessThanOrEqual(l.used);
    }
    expect(r['emptyLedger']).toEqual({ used: 0, resident: 0, reserved: 0, perCollection: 0, native: 0 });
  }, 60_000);
});

describe('faults (issue 12)', () => {
  it('F7: createCollection whose manifest write fails rejects with IoError, leaves nothing live, and the name works once the disk does', async () => {
    const r = await scenario('manifestFails', dir(), [], true);
    expect(r).toEqual({
      create: 'rejected IoError SHOAL_IO',
      listed: ['a'],
      get: 'rejected NotFoundError SHOAL_NOT_FOUND',
      createAgain: 'ok',
      add: 'ok',
      close: 'ok',
      reopen: 'ok',
      reopenedList: ['a', 'x'],
      reopenedCount: 5,
    });
  }, 60_000);

  it('F9: close() on a read-only data directory rejects with IoError, and the same process can open it again', async () => {
    expect(await scenario('closeReadOnly', dir(), [], true)).toEqual({ close: 'rejected IoError SHOAL_IO', reopen: 'ok', count: 100 });
  }, 60_000);

  it('F10: cosine vectors of denormals (their normalisation overflows) are InvalidVectorError on add and query; nothing is stored', async () => {
    const db = await Shoal.open({ threads: 1 });
    try {
      const col = await db.createCollection('cos', { dim: 3, space: 'cosine' });
      await col.add(['ok'], [[1, 0, 0]]);
      for (const bad of [[1e-45, 0, 0], [0, -1e-45, 1e-45]]) {
        await expect(settleWithin(col.add(['bad'], [bad]), BOUND_MS, 'add')).rejects.toBeInstanceOf(InvalidVectorError);
        await expect(settleWithin(col.upsert(['ok'], [bad]), BOUND_MS, 'upsert')).rejects.toBeInstanceOf(InvalidVectorError);
        await expect(settleWithin(col.query(bad), BOUND_MS, 'query')).rejects.toBeInstanceOf(InvalidVectorError);
      }
      expect(await col.count()).toBe(1);
      expect(Array.from((await col.get(['ok'])).vectors[0] as Float32Array)).toEqual([1, 0, 0]);
      await expect(col.get(['bad'])).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      await settleWithin(db.close(), BOUND_MS, 'close');
    }
  });

  it('F11: add(ids, null) and query(v, null) are InvalidArgumentError; unpin() after close is ClosedError', async () => {
    const db = await Shoal.open({ threads: 1 });
    const col = await db.createCollection('c', { dim: 4 });
    const addNull = await settleWithin(
      (async () => col.add(['a'], null as unknown as Float32Array))().catch((e: unknown) => e),
      BOUND_MS,
      'add',
    );
    expect(addNull).toBeInstanceOf(InvalidArgumentError);
    expect(addNull).toBeInstanceOf(ShoalError);
    const queryNull = await settleWithin(
      (async () => col.query([1, 2, 3, 4], null as unknown as object))().catch((e: unknown) => e),
      BOUND_MS,
      'query',
    );
    expect(queryNull).toBeInstanceOf(InvalidArgumentError);
    expect(await col.count()).toBe(0);
    await settleWithin(db.close(), BOUND_MS, 'close');
    const unpinned = await settleWithin((async () => col.unpin())().then(() => null, (e: unknown) => e), BOUND_MS, 'unpin');
    expect(unpinned).toBeInstanceOf(ClosedError);
  });

  it('F12: a deleted .ids file of a shard with logged writes fails only its collection, which can be deleted; the others keep every write', async () => {
    const path = dir();
    expect(await scenario('pendingWrites', path)).toEqual({ acked: true });
    const badDir = join(path, 'collections', 'bad');
    const victim = readdirSync(badDir).find((f) => /^0-\d+\.ids$/.test(f));
    expect(victim).toBeDefined();
    rmSync(join(badDir, victim as string));

    const db = await settleWithin(Shoal.open({ path, threads: 1, warmStart: false }), BOUND_MS, 'open');
    try {
      const good = db.getCollection('good');
      const all = idList('good', 300);
      const got = await settleWithin(good.get(all), BOUND_MS, 'get good');
      const first = vecs(200, 8, 4);
      const later = vecs(100, 8, 54);
      expect(got.vectors.map((v) => Array.from(v))).toEqual([...all.keys()].map((i) => (i < 200 ? rowOf(first, 8, i) : rowOf(later, 8, i - 200))));

      const bad = db.getCollection('bad');
      await expect(settleWithin(bad.query(vecs(1, 8, 1)), BOUND_MS, 'query bad')).rejects.toBeInstanceOf(CorruptionError);
      await expect(settleWithin(bad.get(['bad-0']), BOUND_MS, 'get bad')).rejects.toBeInstanceOf(CorruptionError);
      expect(bad.failure).toBeInstanceOf(CorruptionError);
      await settleWithin(db.deleteCollection('bad'), BOUND_MS, 'delete bad');
      expect(db.listCollections()).toEqual(['good']);
    } finally {
      await settleWithin(db.close(), BOUND_MS, 'close');
    }
    const again = await settleWithin(Shoal.open({ path, threads: 1, warmStart: false }), BOUND_MS, 'reopen');
    expect(again.listCollections()).toEqual(['good']);
    expect(await again.getCollection('good').count()).toBe(300);
    await settleWithin(again.close(), BOUND_MS, 'close again');
  }, 60_000);

  it("F13: another collection's well-formed dim-16 segment copied over a dim-8 one's files is CorruptionError, never wrong vectors", async () => {
    const path = dir();
    const same = idList('id', 100);
    const eight = vecs(100, 8, 20);
    const otherVectors = vecs(100, 8, 21);
    {
      const db = await Shoal.open({ path, threads: 1 });
      await (await db.createCollection('eight', { dim: 8 })).add(same, eight);
      await (await db.createCollection('sixteen', { dim: 16 })).add(same, vecs(100, 16, 22));
      await (await db.createCollection('other', { dim: 8 })).add(same, otherVectors);
      await settleWithin(db.close(), BOUND_MS, 'close');
    }
    const files = (name: string): string[] => readdirSync(join(path, 'collections', name)).filter((f) => /^\d+-\d+\.(seg|ids)$/.test(f)).sort();
    const target = files('eight');
    const source = files('sixteen');
    expect(target.length).toBe(2);
    expect(source.length).toBe(2);
    source.forEach((f, i) => copyFileSync(join(path, 'collections', 'sixteen', f), join(path, 'collections', 'eight', target[i] as string)));

    const db = await settleWithin(Shoal.open({ path, threads: 1, warmStart: false }), BOUND_MS, 'open');
    try {
      const col = db.getCollection('eight');
      const got = await outcome(() => col.get(same.slice(0, 5)), BOUND_MS);
      expect(got).toBe('rejected CorruptionError SHOAL_CORRUPT');
      await expect(settleWithin(col.query(vecs(1, 8, 3)), BOUND_MS, 'query')).rejects.toBeInstanceOf(CorruptionError);
      expect(col.failure).toBeInstanceOf(CorruptionError);
      const other = await settleWithin(db.getCollection('other').get(same), BOUND_MS, 'get other');
      expect(other.vectors.map((v) => Array.from(v))).toEqual(same.map((_, i) => rowOf(otherVectors, 8, i)));
      expect(await db.getCollection('sixteen').count()).toBe(100);
    } finally {
      await settleWithin(db.close(), BOUND_MS, 'close');
    }
  });
});

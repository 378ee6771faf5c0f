// The global memory budget, end to end: eviction and transparent reload, rejection, pinning,
// priorities, TTL on a fake clock, thresholds, manual control, reconfiguration, events, stats.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';

import { BudgetExceededError, InvalidArgumentError, Shoal, type Collection } from '../../src/index.js';
import { allocatorSlackBytes } from '../../src/budget/sizes.js';
import { HYSTERESIS_GAP } from '../../src/budget/thresholds.js';
import { native } from '../../src/native/binding.js';
import { expectBudgetInvariants } from '../support/budget.js';
import { randomVectors } from '../support/data.js';
import { tempDir } from '../support/db.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  expect(native.totalBytes()).toBe(0);
});

setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

const DIM = 16;
const ids = (n: number, p: string): string[] => Array.from({ length: n }, (_, i) => `${p}-${i}`);

/** A fake clock the test moves by hand. */
function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

async function open(options: Parameters<typeof Shoal.open>[0] = {}): Promise<Shoal> {
  const dir = tempDir();
  const db = await Shoal.open({ path: dir.path, threads: 2, maintenanceIntervalMs: 0, ...options });
  cleanups.push(dir.remove, () => db.close());
  return db;
}

/** Bytes one 500-vector, 16-d collection holds when resident (measured, not guessed). */
async function residentSize(): Promise<number> {
  const db = await Shoal.open({ threads: 2, maintenanceIntervalMs: 0 });
  const c = await db.createCollection('probe', { dim: DIM });
  await c.add(ids(500, 'p'), randomVectors(500, DIM, 1));
  const bytes = db.stats().usedBytes;
  await db.close();
  return bytes;
}

async function fill(db: Shoal, name: string, seed: number, extra: Parameters<Shoal['createCollection']>[1] = { dim: DIM }): Promise<Collection> {
  const c = await db.createCollection(name, extra);
  await c.add(ids(500, name), randomVectors(500, DIM, seed));
  return c;
}

describe('eviction and transparent reload', () => {
  it('keeps many collections under a budget that fits only some, with identical answers after reload', async () => {
    const one = await residentSize();
    const db = await open({ memoryLimitBytes: Math.floor(one * 3.5) });
    const evicted: string[] = [];
    db.on('evicted', (e) => evicted.push(e.collection));
    const cols: Collection[] = [];
    const q = randomVectors(3, DIM, 99);
    const answers: unknown[] = [];
    for (let i = 0; i < 8; i++) {
      cols.push(await fill(db, `c${i}`, i));
      answers.push(await (cols[i] as Collection).query(q, { k: 5, ef: 600 }));
      await expectBudgetInvariants(db);
    }
    expect(evicted.length).toBeGreaterThanOrEqual(4);
    expect(evicted[0]).toBe('c0'); // least recently used goes first
    for (let i = 0; i < 8; i++) {
      expect(await (cols[i] as Collection).query(q, { k: 5, ef: 600 })).toEqual(answers[i]);
      expect(await (cols[i] as Collection).count()).toBe(500);
      await expectBudgetInvariants(db);
    }
    const s = db.stats();
    expect(s.misses).toBeGreaterThan(0);
    expect(s.loads).toBeGreaterThan(0);
    expect(s.evictions.lru).toBeGreaterThan(0);
    expect(s.bytesSpilled).toBeGreaterThan(0);
    expect(s.recentEvictions.length).toBe(Object.values(s.evictions).reduce((a, b) => a + b, 0));
  });

  it('an ephemeral database spills to its temp directory and loses nothing', async () => {
    const one = await residentSize();
    const db = await Shoal.open({ threads: 2, memoryLimitBytes: Math.floor(one * 2.5), maintenanceIntervalMs: 0 });
    cleanups.push(() => db.close());
    const a = await fill(db, 'a', 1);
    await fill(db, 'b', 2);
    await fill(db, 'c', 3);
    expect(a.resident).toBe(false);
    expect((await a.get(['a-7'])).vectors[0]).toEqual(randomVectors(500, DIM, 1).subarray(7 * DIM, 8 * DIM));
  });
});

describe('rejection', () => {
  it('pinned collections that fill the budget make the next load fail with a full report, changing nothing', async () => {
    const one = await residentSize();
    const db = await open({ memoryLimitBytes: Math.floor(one * 2.5) });
    const a = await fill(db, 'a', 1);
    const b = await fill(db, 'b', 2);
    await a.pin();
    await b.pin();
    const rejected: unknown[] = [];
    db.on('rejected', (e) => rejected.push(e));
    const before = db.stats();
    const err = await fill(db, 'c', 3).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(BudgetExceededError);
    const e = err as BudgetExceededError;
    expect(e.code).toBe('SHOAL_BUDGET_EXCEEDED');
    expect(e.limitBytes).toBe(Math.floor(one * 2.5));
    expect(e.pinnedBytes).toBeGreaterThan(one * 1.5);
    expect(e.wantedBytes).toBeGreaterThan(0);
    expect(e.usedBytes).toBe(before.usedBytes);
    expect(e.breakdown.map((s) => s.collection).sort()).toEqual(['a', 'b']);
    expect(e.breakdown.every((s) => s.pinned)).toBe(true);
    expect(rejected).toHaveLength(1);
    expect(a.resident && b.resident).toBe(true);
    await expectBudgetInvariants(db);
    // Unpinning makes room again.
    b.unpin();
    await db.getCollection('c').add(['x'], randomVectors(1, DIM, 4));
    expect(b.resident).toBe(false);
    await expectBudgetInvariants(db);
  });

  it("cachePolicy 'none' never evicts: it rejects when full", async () => {
    const one = await residentSize();
    const db = await open({ memoryLimitBytes: Math.floor(one * 1.5), cachePolicy: 'none' });
    const a = await fill(db, 'a', 1);
    await expect(fill(db, 'b', 2)).rejects.toBeInstanceOf(BudgetExceededError);
    expect(a.resident).toBe(true);
    expect(db.stats().evictions.lru).toBe(0);
  });

  it('a per-collection quota refuses growth beyond it', async () => {
    const one = await residentSize();
    const db = await open({ memoryLimitBytes: one * 10 });
    const c = await db.createCollection('small', { dim: DIM, quotaBytes: Math.floor(one * 1.2) });
    await c.add(ids(500, 'a'), randomVectors(500, DIM, 1));
    const err = await c.add(ids(2000, 'b'), randomVectors(2000, DIM, 2)).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(BudgetExceededError);
    expect((err as BudgetExceededError).details['collection']).toBe('small');
    expect(await c.count()).toBe(500);
  });
});

describe('priorities and TTL', () => {
  it('evicts low priority before recently unused medium, and never critical', async () => {
    const one = await residentSize();
    const db = await open({ memoryLimitBytes: Math.floor(one * 3.5) });
    const critical = await fill(db, 'crit', 1, { dim: DIM, priority: 'critical' });
    const low = await fill(db, 'low', 2, { dim: DIM, priority: 'low' });
    const high = await fill(db, 'high', 3, { dim: DIM, priority: 'high' });
    // low is now the most recently used. A write, not a query: soft pressure evicted low a
    // moment ago, and a reloaded collection lacks hnswlib's label lock table until written,
    // which would leave it too small for the sizes this test is built on.
    await low.upsert(['low-0'], randomVectors(1, DIM, 5));
    const order: string[] = [];
    db.on('evicted', (e) => order.push(`${e.collection}:${e.reason}`));
    await fill(db, 'more', 4);
    // Down to the target (0.8 of the limit) takes two: low first despite being the most recent.
    expect(order).toEqual(['low:priority', 'high:lru']);
    expect(low.resident || high.resident).toBe(false);
    for (let i = 0; i < 4; i++) await fill(db, `x${i}`, 10 + i);
    expect(critical.resident).toBe(true);
    expect(db.stats().evictions.priority + db.stats().evictions.lru).toBeGreaterThan(0);
    await expectBudgetInvariants(db);
  });

  it('unloads collections idle longer than ttlMs on a fake clock, and reloads them on use', async () => {
    const clock = fakeClock();
    const db = await open({ ttlMs: 60_000, clock });
    const a = await fill(db, 'a', 1);
    const b = await fill(db, 'b', 2);
    clock.advance(59_000);
    await b.count();
    await b.query(randomVectors(1, DIM, 3));
    await db.maintain();
    expect(a.resident && b.resident).toBe(true);
    clock.advance(1_000);
    const evicted: string[] = [];
    db.on('evicted', (e) => evicted.push(`${e.collection}:${e.reason}`));
    await db.maintain();
    expect(evicted).toEqual(['a:expired']);
    expect(a.resident).toBe(false);
    expect(b.resident).toBe(true);
    expect((await a.query(randomVectors(1, DIM, 4), { k: 3 }))[0]?.ids).toHaveLength(3);
    expect(a.resident).toBe(true);
    expect(db.stats().evictions.expired).toBe(1);
  });
});

describe('thresholds', () => {
  it('report their level with hysteresis and relieve soft pressure by evicting low priority first', async () => {
    const one = await residentSize();
    const db = await open({ memoryLimitBytes: Math.floor(one * 4), thresholds: { soft: 0.5, hard: 0.85, emergency: 0.97 }, evictionTarget: 0.3 });
    const levels: string[] = [];
    db.on('threshold', (e) => levels.push(`${e.previous}->${e.level}`));
    const low = await fill(db, 'low', 1, { dim: DIM, priority: 'low' });
    await fill(db, 'keep', 2);
    await db.maintain(); // lets the background relief finish deterministically
    expect(levels[0]).toBe('normal->soft');
    expect(low.resident).toBe(false);
    expect(db.stats().evictions.threshold).toBe(1);
    await expectBudgetInvariants(db);
  });

  it('a full cache swaps at the hard threshold: each load evicts only until usage is at most hard', async () => {
    const hard = 0.8;
    const db = await open({ memoryLimitBytes: '1GB', thresholds: { soft: 0.7, hard, emergency: 0.97 }, evictionTarget: 0.6 });
    const cols: Collection[] = [];
    for (let i = 0; i < 80; i++) {
      const c = await db.createCollection(`s${i}`, { dim: DIM });
      await c.add(ids(40, `s${i}`), randomVectors(40, DIM, 300 + i));
      cols.push(c);
    }
    await db.unloadAll();
    await (cols[0] as Collection).load();
    const one = db.stats().usedBytes; // a reloaded collection (no label lock table) and what it reserves
    await db.unloadAll();
    const limit = Math.floor((one * 60) / hard); // hard holds 60 of the 80
    await db.configure({ memoryLimitBytes: limit });
    // One collection must be well under the hysteresis gap, or stopping at hard and stopping
    // at its exit (hard less the gap) could keep the same set.
    expect(1.4 * one).toBeLessThan(HYSTERESIS_GAP * limit);
    let evicted = 0;
    db.on('evicted', () => evicted++);
    const evictions: number[] = []; // per load
    for (const c of cols) {
      const before = evicted;
      await c.load();
      evictions.push(evicted - before);
      expect(db.stats().usedBytes).toBeLessThanOrEqual(hard * limit);
    }
    // Usage ends within one collection of hard, above the gap's exit, after one eviction per
    // load once full (each load needs the room of the one that leaves).
    const used = db.stats().usedBytes;
    expect(used).toBeGreaterThan(hard * limit - one);
    expect(used).toBeGreaterThan((hard - HYSTERESIS_GAP) * limit);
    expect(Math.max(...evictions)).toBe(1);
    expect(evictions.reduce((a, b) => a + b, 0)).toBe(80 - cols.filter((c) => c.resident).length);
    expect(cols.slice(-50).every((c) => c.resident)).toBe(true);
    await expectBudgetInvariants(db);
  });
});

describe('manual control', () => {
  it('unload is idempotent and waits for calls in flight; load warms; unloadAll empties memory', async () => {
    const db = await open({ memoryLimitBytes: '1GB' });
    const a = await fill(db, 'a', 1);
    const b = await fill(db, 'b', 2);
    const inFlight = a.query(randomVectors(400, DIM, 3), { k: 10 });
    const unloading = a.unload();
    expect((await inFlight).length).toBe(400);
    await unloading;
    await a.unload();
    expect(a.resident).toBe(false);
    await a.load();
    expect(a.resident).toBe(true);
    await db.unloadAll();
    expect(a.resident || b.resident).toBe(false);
    expect(db.stats().residentBytes).toBe(0);
    expect(db.stats().evictions.manual).toBe(3);
    await expectBudgetInvariants(db);
  });
});

describe("hnswlib's label lock table", () => {
  const LOCK_TABLE = 40 * 65536; // 65,536 std::mutex of 40 bytes

  it('is not held by a reloaded collection until its first write, whose reservation covers it', async () => {
    const db = await open({ memoryLimitBytes: '64MB' });
    const a = await fill(db, 'a', 1);
    const bytesOf = (): number => db.stats().collections.find((c) => c.name === 'a')?.bytes ?? -1;
    const written = bytesOf();
    await a.unload();
    await a.load();
    const reloaded = bytesOf();
    expect(reloaded).toBeLessThan(written - LOCK_TABLE);
    await expectBudgetInvariants(db);

    // A limit that leaves less than the table free: the first write cannot be admitted (the
    // collection is in use, so nothing can be evicted for it), and nothing changes.
    await db.configure({ memoryLimitBytes: db.stats().usedBytes + LOCK_TABLE / 2 });
    const rejected = await a.add(['x'], randomVectors(1, DIM, 5)).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(BudgetExceededError);
    expect((rejected as BudgetExceededError).wantedBytes).toBeGreaterThan(LOCK_TABLE);
    expect(bytesOf()).toBe(reloaded);
    expect((await a.query(randomVectors(2, DIM, 6), { k: 3 })).length).toBe(2);

    await db.configure({ memoryLimitBytes: '64MB' });
    await a.add(['x'], randomVectors(1, DIM, 5));
    expect(bytesOf()).toBeGreaterThan(reloaded + LOCK_TABLE);
    await expectBudgetInvariants(db);
  });
});

describe('runtime reconfiguration', () => {
  it('shrinking evicts down at once, growing admits more, without dropping the cache', async () => {
    const one = await residentSize();
    const db = await open({ memoryLimitBytes: one * 10 });
    const cols: Collection[] = [];
    for (let i = 0; i < 5; i++) cols.push(await fill(db, `c${i}`, i));
    const events: unknown[] = [];
    db.on('reconfigured', (e) => events.push(e.config.memoryLimitBytes));
    await db.configure({ memoryLimitBytes: Math.floor(one * 2.5) });
    expect(db.stats().limitBytes).toBe(Math.floor(one * 2.5));
    expect(cols.filter((c) => c.resident).length).toBeLessThanOrEqual(2);
    expect(cols[4]?.resident).toBe(true); // most recent kept
    await expectBudgetInvariants(db);
    await db.configure({ memoryLimitBytes: one * 10, ttlMs: 5000 });
    for (const c of cols) await c.load();
    expect(cols.every((c) => c.resident)).toBe(true);
    expect(db.config.ttlMs).toBe(5000);
    expect(events).toEqual([Math.floor(one * 2.5), one * 10]);
    await expectBudgetInvariants(db);
  });

  it('sizes the allocator slack from the limit, at open and on reconfiguration', async () => {
    const db = await open({ memoryLimitBytes: '256MB' });
    expect(native.allocatorCounters().slackBytes).toBe(allocatorSlackBytes(256e6));
    await db.configure({ memoryLimitBytes: '8GB' });
    expect(native.allocatorCounters().slackBytes).toBe(64 * 1024 * 1024);
  });

  it('refuses a limit below what is pinned, changing nothing', async () => {
    const one = await residentSize();
    const db = await open({ memoryLimitBytes: one * 10 });
    const a = await fill(db, 'a', 1);
    await a.pin();
    await expect(db.configure({ memoryLimitBytes: Math.floor(one / 2) })).rejects.toBeInstanceOf(BudgetExceededError);
    expect(db.stats().limitBytes).toBe(one * 10);
    await expect(db.configure({ thresholds: { soft: 0.9, hard: 0.5 } })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('configuration sources', () => {
  it('reads SHOAL_* environment variables; explicit options win; bad values fail at open', async () => {
    const env = { SHOAL_MEMORY_LIMIT_BYTES: '64MiB', SHOAL_TTL_MS: '1234', SHOAL_SEGMENT_CACHE_POLICY: 'none' };
    const db = await open({ env, ttlMs: 99 });
    expect(db.config).toMatchObject({ memoryLimitBytes: 64 * 2 ** 20, ttlMs: 99, cachePolicy: 'none' });
    const err = await Shoal.open({ env: { SHOAL_MEMORY_LIMIT_BYTES: 'lots' } }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/SHOAL_MEMORY_LIMIT_BYTES/);
  });
});

describe('V8 sees native memory', () => {
  it('reports resident bytes as external memory, and takes them back on unload', async () => {
    const db = await open({ memoryLimitBytes: '1GB' });
    const col = await fill(db, 'ext', 1);
    await col.add(ids(3000, 'more'), randomVectors(3000, DIM, 2));
    const resident = db.stats().residentBytes;
    // V8's own count of external memory (a zero adjustment returns it; Node 20's
    // process.memoryUsage().external does not include adjustments). It also counts
    // ArrayBuffers, so a full GC first: garbage freed between two readings (1.3 MB of it once)
    // would otherwise hide the adjustment.
    const external = (): number => {
      fullGc();
      return native.adjustExternalMemory(0);
    };
    // Segments only: id tables are typed arrays, which V8 counts itself.
    const nativeBytes = db.stats().nativeBytes;
    expect(db.stats().reportedToV8Bytes).toBe(nativeBytes);
    expect(nativeBytes).toBeLessThan(resident);
    const loaded = external();
    await col.unload();
    expect(db.stats().reportedToV8Bytes).toBe(0);
    const unloaded = external();
    // V8's counter also moves with ArrayBuffers allocated and freed meanwhile.
    expect(loaded - unloaded).toBeGreaterThan(nativeBytes * 0.9);
    await col.load();
    expect(db.stats().reportedToV8Bytes).toBe(db.stats().nativeBytes);
    expect(external() - unloaded).toBeGreaterThan(db.stats().nativeBytes * 0.9);
  });
});

describe('robustness', () => {
  it('a filtered query loads only the shards its ids hash to', async () => {
    const db = await open({});
    const c = await db.createCollection('sharded', { dim: DIM, shards: 4 });
    await c.add(ids(400, 's'), randomVectors(400, DIM, 1));
    await db.unloadAll();
    const [r] = await c.query(randomVectors(1, DIM, 2), { k: 3, filter: { ids: ['s-7'] } });
    expect(r?.ids).toEqual(['s-7']);
    expect(c.stats().residentShards).toBe(1);
  });

  it('a listener that throws does not break the call that fired it', async () => {
    const db = await open({});
    db.on('loaded', () => {
      throw new Error('listener bug');
    });
    const warned = new Promise<string>((done) => process.once('warning', (w) => done(w.message)));
    const c = await fill(db, 'l', 1);
    expect(await c.count()).toBe(500);
    expect(await warned).toContain('listener bug');
  });
});

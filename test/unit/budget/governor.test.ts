// The governor driven against a fake shard store: it decides and keeps the ledger; the fake
// evicts. No addon, no pool, no files.
import { describe, expect, it } from 'vitest';

import { Governor, type Evictor, type GovernorEvents, type ShardView } from '../../../src/budget/governor.js';
import type { EvictionReason } from '../../../src/budget/policy.js';
import { resolveConfig } from '../../../src/config.js';
import { BudgetExceededError } from '../../../src/errors.js';

interface FakeShard {
  key: string;
  bytes: number;
  users: number;
  stalled: number;
  lastUsedMs: number;
  resident: boolean;
  leaving: boolean;
  pinned: boolean;
}

class FakeStore implements Evictor {
  readonly shards_ = new Map<string, FakeShard>();
  readonly evicted: string[] = [];
  #idle = new Map<string, (() => void)[]>();
  constructor(readonly governor: Governor) {}

  resident(key: string, bytes: number, lastUsedMs: number, extra: Partial<FakeShard> = {}): FakeShard {
    const s: FakeShard = { key, bytes, users: 0, stalled: 0, lastUsedMs, resident: true, leaving: false, pinned: false, ...extra };
    this.shards_.set(key, s);
    this.governor.settle(key, bytes, 0);
    return s;
  }

  leave(key: string): void {
    const s = this.shards_.get(key) as FakeShard;
    s.users--;
    if (s.users === 0) for (const done of this.#idle.get(key)?.splice(0) ?? []) done();
  }

  /** Frees a shard that was leaving (an unload finishing elsewhere). */
  finishLeaving(key: string): void {
    const s = this.shards_.get(key) as FakeShard;
    s.resident = false;
    s.leaving = false;
    this.governor.settle(key, 0, 0);
  }

  *shards(): Iterable<ShardView> {
    for (const s of this.shards_.values()) {
      yield {
        key: s.key, collection: s.key.split('/')[0] as string, priority: 'medium', pinned: s.pinned, lastUsedMs: s.lastUsedMs,
        resident: s.resident, busy: s.users > 0 || s.leaving, users: s.users, stalled: s.stalled, leaving: s.leaving,
      };
    }
  }

  async evict(key: string, _reason: EvictionReason): Promise<boolean> {
    const s = this.shards_.get(key);
    if (s === undefined || !s.resident || s.users > 0 || s.leaving) return false;
    s.resident = false;
    this.evicted.push(key);
    this.governor.settle(key, 0, 0);
    return true;
  }

  released(keys: readonly string[]): Promise<void> {
    return Promise.race(
      keys.map((k) => {
        const s = this.shards_.get(k);
        if (s === undefined || s.users === 0) return Promise.resolve();
        return new Promise<void>((done) => {
          const list = this.#idle.get(k) ?? [];
          list.push(done);
          this.#idle.set(k, list);
        });
      }),
    );
  }
}

function setup(limit: number, admissionWaitMs = 60_000) {
  let now = 1_000;
  const events: { event: keyof GovernorEvents; payload: unknown }[] = [];
  const config = resolveConfig({ memoryLimitBytes: limit, threads: 1, maintenanceIntervalMs: 0, admissionWaitMs }, {});
  const governor = new Governor(config, { now: () => now }, (event, payload) => events.push({ event, payload }));
  const store = new FakeStore(governor);
  governor.attach(store);
  return { governor, store, events, tick: (ms: number) => (now += ms) };
}

const load = (g: Governor, bytes: number, own: string[] = [], stall: (w: boolean) => void = () => undefined) =>
  g.admit({ bytes, kind: 'load', collection: { name: 'c', quotaBytes: 0 }, label: 'load', wait: { own: new Set(own), stall } });

describe('Governor against a fake store', () => {
  it('evicts the least recently used idle shards to admit a load, and accounts exactly', async () => {
    const { governor, store } = setup(10_000);
    store.resident('a/0', 4_000, 10);
    store.resident('b/0', 4_000, 20);
    const r = await load(governor, 3_000);
    expect(store.evicted).toEqual(['a/0']);
    expect(governor.ledger.usedBytes).toBe(4_000 + 3_000);
    governor.release(r);
    expect(governor.ledger.usedBytes).toBe(4_000);
  });

  it('never evicts a shard in use: the load waits for its release, then evicts it', async () => {
    const { governor, store } = setup(10_000);
    const busy = store.resident('a/0', 8_000, 10);
    busy.users = 1;
    let admitted = false;
    const pending = load(governor, 5_000).then((r) => {
      admitted = true;
      return r;
    });
    await governor.idle();
    expect(admitted).toBe(false);
    expect(store.evicted).toEqual([]);
    store.leave('a/0');
    await pending;
    expect(store.evicted).toEqual(['a/0']);
    expect(governor.ledger.usedBytes).toBe(5_000);
  });

  it('refuses at once when the only shards to wait for are held by calls that are waiting themselves', async () => {
    const { governor, store } = setup(12_000);
    // Each of two calls holds a shard and needs the other's bytes: waiting would last until the
    // deadline. The second to ask is refused at once and the first goes on.
    const a = store.resident('a/0', 5_000, 10, { users: 1 });
    store.resident('b/0', 5_000, 20, { users: 1 });
    const first = load(governor, 5_000, ['a/0'], (w) => (a.stalled += w ? 1 : -1));
    await governor.idle();
    expect(a.stalled).toBe(1);
    const second = load(governor, 5_000, ['b/0']);
    await expect(second).rejects.toBeInstanceOf(BudgetExceededError);
    store.leave('b/0'); // the refused call ends and lets its shard go
    await first;
    expect(store.evicted).toEqual(['b/0']);
    expect(a.stalled).toBe(0);
  });

  it('waits for a shard that is being unloaded elsewhere instead of refusing', async () => {
    const { governor, store } = setup(10_000);
    store.resident('a/0', 8_000, 10, { leaving: true });
    const pending = load(governor, 5_000);
    await governor.idle();
    store.finishLeaving('a/0');
    const r = await pending;
    expect(r.bytes).toBe(5_000);
    expect(governor.ledger.usedBytes).toBe(5_000);
  });

  it('refuses, announces and counts a load that cannot fit, changing nothing', async () => {
    const { governor, store, events } = setup(10_000);
    store.resident('a/0', 9_000, 10, { pinned: true });
    await expect(load(governor, 5_000)).rejects.toMatchObject({ code: 'SHOAL_BUDGET_EXCEEDED', wantedBytes: 5_000, pinnedBytes: 9_000 });
    expect(governor.ledger.usedBytes).toBe(9_000);
    expect(governor.stats.rejections).toBe(1);
    expect(events.filter((e) => e.event === 'rejected')).toHaveLength(1);
  });

  it('gives up waiting at admissionWaitMs by the injected clock', async () => {
    const { governor, store, tick } = setup(10_000, 1_000);
    store.resident('a/0', 8_000, 10, { users: 1 });
    const pending = load(governor, 5_000);
    await governor.idle();
    tick(1_001);
    store.resident('b/0', 1, 30); // any change of the ledger that frees nothing still re-plans
    governor.settle('b/0', 0, 0); // bytes went down: the waiting load looks again, past its deadline
    await expect(pending).rejects.toBeInstanceOf(BudgetExceededError);
  });

  it('shrinking the limit evicts idle shards first and refuses when shards in use do not fit', async () => {
    const { governor, store } = setup(10_000);
    store.resident('a/0', 3_000, 10);
    store.resident('b/0', 3_000, 20, { users: 1 });
    const config = governor.config;
    await governor.configure({ ...config, memoryLimitBytes: 4_000 });
    expect(store.evicted).toEqual(['a/0']);
    expect(governor.ledger.limitBytes).toBe(4_000);
    await expect(governor.configure({ ...config, memoryLimitBytes: 2_000 })).rejects.toBeInstanceOf(BudgetExceededError);
    expect(governor.ledger.limitBytes).toBe(4_000);
  });
});

describe('transient reservations', () => {
  const transient = (g: Governor, bytes: number) => g.admit({ bytes, kind: 'transient', collection: null, label: 'scratch' });

  it('counts transient bytes apart and releases them', async () => {
    const { governor, store } = setup(10_000);
    store.resident('a/0', 2_000, 10, { users: 1 });
    const r = await transient(governor, 3_000);
    expect(governor.transientBytes).toBe(3_000);
    expect(governor.ledger.usedBytes).toBe(5_000);
    governor.release(r);
    expect(governor.transientBytes).toBe(0);
    expect(governor.ledger.usedBytes).toBe(2_000);
  });

  it('one that does not fit waits for another call to release its transient bytes, then gets them', async () => {
    const { governor, store } = setup(10_000);
    store.resident('a/0', 4_000, 10, { users: 1 });
    const first = await transient(governor, 5_000);
    let admitted = false;
    const second = transient(governor, 5_000).then((r) => {
      admitted = true;
      return r;
    });
    await governor.idle();
    expect(admitted).toBe(false);
    governor.release(first);
    const r = await second;
    expect(governor.ledger.usedBytes).toBe(9_000);
    expect(governor.transientBytes).toBe(5_000);
    governor.release(r);
  });

  it('is refused when nothing transient is in flight to wait for, and when it exceeds the limit', async () => {
    const { governor, store } = setup(10_000);
    store.resident('a/0', 8_000, 10, { users: 1 });
    await expect(transient(governor, 5_000)).rejects.toBeInstanceOf(BudgetExceededError);
    const held = await transient(governor, 1_000);
    await expect(transient(governor, 20_000)).rejects.toBeInstanceOf(BudgetExceededError);
    governor.release(held);
    expect(governor.transientBytes).toBe(0);
  });

  it('evicts idle shards to make room, like a load', async () => {
    const { governor, store } = setup(10_000);
    store.resident('a/0', 8_000, 10);
    const r = await transient(governor, 5_000);
    expect(store.evicted).toEqual(['a/0']);
    governor.release(r);
  });

  it('maintain() runs the housekeeping hook after its evictions', async () => {
    const { governor, store } = setup(10_000);
    let runs = 0;
    governor.attach(store, () => runs++);
    await governor.maintain();
    await governor.maintain();
    expect(runs).toBe(2);
  });
});

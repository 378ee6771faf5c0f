// The eviction policy: pure plans over plain resident data, with time passed in as `nowMs`.
import { describe, expect, it } from 'vitest';

import {
  type Admission,
  isEvictable,
  isExpired,
  orderForEviction,
  planAdmission,
  planEmergencyEviction,
  planExpiry,
  planSoftEviction,
  type PolicyConfig,
  PRIORITIES,
  type Priority,
  type Resident,
  type Victim,
} from '../../../src/budget/policy.js';
import { rng } from '../../support/data.js';

const NOW = 1_000_000;

/** A resident with harmless defaults: 100 bytes, medium priority, used at 0, not pinned, not busy. */
function res(key: string, over: Partial<Omit<Resident, 'key'>> = {}): Resident {
  return Object.freeze({
    key,
    collection: 'c',
    bytes: 100,
    priority: 'medium' as Priority,
    lastUsedMs: 0,
    pinned: false,
    busy: false,
    ...over,
  });
}

function cfg(over: Partial<PolicyConfig> = {}): PolicyConfig {
  return { limitBytes: 1000, targetFraction: 0.8, ttlMs: 0, ...over };
}

function keys(list: readonly { key: string }[]): string[] {
  return list.map((r) => r.key);
}

function total(list: readonly { bytes: number }[]): number {
  return list.reduce((s, r) => s + r.bytes, 0);
}

/** Table rows as [name, row], so '%s' prints the behaviour sentence as the test name. */
function named<T extends { name: string }>(rows: T[]): [string, T][] {
  return rows.map((r) => [r.name, r]);
}

function victimsOf(a: Admission): readonly Victim[] {
  if (a.kind !== 'evict') throw new Error(`expected an eviction plan, got ${JSON.stringify(a)}`);
  return a.victims;
}

describe('isExpired', () => {
  it.each(named<{ name: string; ttlMs: number; lastUsedMs: number; nowMs: number; expected: boolean }>([
    { name: 'treats a TTL of 0 as never expiring, however long idle', ttlMs: 0, lastUsedMs: 0, nowMs: 1e12, expected: false },
    { name: 'keeps a segment idle one millisecond less than the TTL', ttlMs: 1000, lastUsedMs: 5000, nowMs: 5999, expected: false },
    { name: 'expires a segment idle exactly the TTL', ttlMs: 1000, lastUsedMs: 5000, nowMs: 6000, expected: true },
    { name: 'expires a segment idle longer than the TTL', ttlMs: 1000, lastUsedMs: 5000, nowMs: 60_000, expected: true },
    { name: 'keeps a segment used just now', ttlMs: 1, lastUsedMs: 5000, nowMs: 5000, expected: false },
    { name: 'expires a segment idle 1 ms under a 1 ms TTL', ttlMs: 1, lastUsedMs: 5000, nowMs: 5001, expected: true },
    { name: 'keeps a segment whose last use is later than now', ttlMs: 1000, lastUsedMs: 9000, nowMs: 5000, expected: false },
  ]))('%s', (_name, { ttlMs, lastUsedMs, nowMs, expected }) => {
    expect(isExpired(res('a', { lastUsedMs }), ttlMs, nowMs)).toBe(expected);
  });
});

describe('isEvictable', () => {
  it.each(named<{ name: string; over: Partial<Resident>; expected: boolean }>([
    { name: 'allows an idle, unpinned, low-priority segment', over: { priority: 'low' }, expected: true },
    { name: 'allows a high-priority segment', over: { priority: 'high' }, expected: true },
    { name: 'refuses a pinned segment', over: { pinned: true }, expected: false },
    { name: 'refuses a busy segment', over: { busy: true }, expected: false },
    { name: 'refuses a critical segment', over: { priority: 'critical' }, expected: false },
  ]))('%s', (_name, { over, expected }) => {
    expect(isEvictable(res('a', over))).toBe(expected);
  });
});

describe('orderForEviction', () => {
  it.each(named<{ name: string; residents: Resident[]; ttlMs: number; expected: string[] }>([
    {
      name: 'puts expired segments before unexpired ones of lower priority and older use',
      ttlMs: 1000,
      residents: [res('fresh-low', { priority: 'low', lastUsedMs: NOW - 10 }), res('stale-high', { priority: 'high', lastUsedMs: NOW - 5000 })],
      expected: ['stale-high', 'fresh-low'],
    },
    {
      name: 'puts an expired high-priority segment before an unexpired, less recently used low one',
      ttlMs: 1000,
      residents: [res('old-low', { priority: 'low', lastUsedMs: NOW - 999 }), res('expired-high', { priority: 'high', lastUsedMs: NOW - 1000 })],
      expected: ['expired-high', 'old-low'],
    },
    {
      name: 'orders by priority, lowest first, when nothing is expired',
      ttlMs: 0,
      residents: [
        res('h', { priority: 'high', lastUsedMs: 1 }),
        res('m', { priority: 'medium', lastUsedMs: 2 }),
        res('l', { priority: 'low', lastUsedMs: 3 }),
      ],
      expected: ['l', 'm', 'h'],
    },
    {
      name: 'orders least recently used first within a priority',
      ttlMs: 0,
      residents: [res('c', { lastUsedMs: 30 }), res('a', { lastUsedMs: 10 }), res('b', { lastUsedMs: 20 })],
      expected: ['a', 'b', 'c'],
    },
    {
      name: 'prefers lower priority over less recent use',
      ttlMs: 0,
      residents: [res('old-medium', { priority: 'medium', lastUsedMs: 1 }), res('new-low', { priority: 'low', lastUsedMs: 999 })],
      expected: ['new-low', 'old-medium'],
    },
    {
      name: 'orders expired segments among themselves by priority, then by last use',
      ttlMs: 100,
      residents: [
        res('x-high-old', { priority: 'high', lastUsedMs: 1 }),
        res('x-low-new', { priority: 'low', lastUsedMs: 500 }),
        res('x-low-old', { priority: 'low', lastUsedMs: 2 }),
        res('live-low', { priority: 'low', lastUsedMs: NOW }),
      ],
      expected: ['x-low-old', 'x-low-new', 'x-high-old', 'live-low'],
    },
    {
      name: 'breaks full ties by key',
      ttlMs: 0,
      residents: [res('d'), res('b'), res('a'), res('c')],
      expected: ['a', 'b', 'c', 'd'],
    },
    {
      name: 'breaks ties by key only after priority and last use',
      ttlMs: 0,
      residents: [res('a', { lastUsedMs: 2 }), res('b', { lastUsedMs: 1 }), res('c', { priority: 'low', lastUsedMs: 3 })],
      expected: ['c', 'b', 'a'],
    },
    {
      name: 'leaves out pinned, busy and critical segments',
      ttlMs: 10,
      residents: [
        res('pinned', { pinned: true, priority: 'low' }),
        res('busy', { busy: true, priority: 'low' }),
        res('critical', { priority: 'critical' }),
        res('ok'),
      ],
      expected: ['ok'],
    },
    {
      name: 'returns nothing when nothing is evictable',
      ttlMs: 0,
      residents: [res('p', { pinned: true }), res('c', { priority: 'critical' })],
      expected: [],
    },
    { name: 'returns nothing for no residents', ttlMs: 0, residents: [], expected: [] },
  ]))('%s', (_name, { residents, ttlMs, expected }) => {
    expect(keys(orderForEviction(residents, ttlMs, NOW))).toEqual(expected);
  });

  it.each([0, 1, 2, 3, 4])('gives the same order whatever the input order (rotation %i)', (rotation) => {
    const residents = [
      res('a', { priority: 'low', lastUsedMs: 10 }),
      res('b', { priority: 'low', lastUsedMs: 10 }),
      res('c', { priority: 'high', lastUsedMs: 0 }),
      res('d', { priority: 'medium', lastUsedMs: NOW - 50 }),
      res('e', { priority: 'high', lastUsedMs: NOW }),
    ];
    const rotated = [...residents.slice(rotation), ...residents.slice(0, rotation)];
    expect(keys(orderForEviction(rotated, 100, NOW))).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('leaves its input array untouched', () => {
    const residents = Object.freeze([res('b', { lastUsedMs: 2 }), res('a', { lastUsedMs: 1 })]);
    expect(keys(orderForEviction(residents, 0, NOW))).toEqual(['a', 'b']);
    expect(keys(residents)).toEqual(['b', 'a']);
  });
});

describe('planAdmission', () => {
  const lows = (n: number, bytes = 100): Resident[] =>
    Array.from({ length: n }, (_, i) => res(`r${i}`, { priority: 'low', bytes, lastUsedMs: i + 1 }));

  it.each(named<{ name: string; residents: Resident[]; usedBytes: number; wantedBytes: number }>([
    { name: 'admits a request that fits with room to spare', residents: lows(5), usedBytes: 500, wantedBytes: 400 },
    { name: 'admits a request that fills the limit exactly', residents: lows(6), usedBytes: 600, wantedBytes: 400 },
    { name: 'admits a request of 0 bytes at the limit', residents: lows(10), usedBytes: 1000, wantedBytes: 0 },
    { name: 'admits into an empty budget', residents: [], usedBytes: 0, wantedBytes: 1000 },
    { name: 'admits above the target when the request fits (no ceiling)', residents: lows(9), usedBytes: 900, wantedBytes: 100 },
  ]))('%s', (_name, { residents, usedBytes, wantedBytes }) => {
    expect(planAdmission(residents, usedBytes, wantedBytes, cfg(), NOW)).toEqual({ kind: 'admit' });
  });

  it.each(named<{ name: string; residents: Resident[]; usedBytes: number; wantedBytes: number; config?: Partial<PolicyConfig>; expected: string[] }>([
    {
      // keepAtMost = 0.8 * 1000 - 200 = 600: one 300-byte victim takes 900 to 600.
      name: 'evicts one segment when one brings usage down to target minus the request',
      residents: lows(3, 300),
      usedBytes: 900,
      wantedBytes: 200,
      expected: ['r0'],
    },
    {
      // keepAtMost = 800 - 50 = 750: fitting needs one victim, the target needs three.
      name: 'evicts down to the target, not merely enough to fit',
      residents: lows(10),
      usedBytes: 1000,
      wantedBytes: 50,
      expected: ['r0', 'r1', 'r2'],
    },
    {
      name: 'stops as soon as usage reaches target minus the request exactly',
      residents: lows(10),
      usedBytes: 1000,
      wantedBytes: 100,
      expected: ['r0', 'r1', 'r2'],
    },
    {
      name: 'evicts the least recently used first among equals',
      residents: [res('new', { bytes: 200, lastUsedMs: 900 }), res('old', { bytes: 200, lastUsedMs: 100 }), res('mid', { bytes: 200, lastUsedMs: 500 })],
      usedBytes: 1000, // 600 resident, 400 reserved
      wantedBytes: 100,
      expected: ['old', 'mid'],
    },
    {
      name: 'evicts expired segments before recently used ones',
      config: { ttlMs: 1000 },
      residents: [
        res('recent-low', { priority: 'low', bytes: 300, lastUsedMs: NOW - 1 }),
        res('expired-high', { priority: 'high', bytes: 300, lastUsedMs: NOW - 2000 }),
      ],
      usedBytes: 1000,
      wantedBytes: 100,
      expected: ['expired-high'],
    },
    {
      name: 'evicts lower priority before older use',
      residents: [res('old-high', { priority: 'high', lastUsedMs: 1 }), res('new-low', { priority: 'low', lastUsedMs: NOW }), res('x', { bytes: 700, pinned: true })],
      usedBytes: 900,
      wantedBytes: 200,
      expected: ['new-low', 'old-high'],
    },
    {
      name: 'evicts everything evictable when the request alone exceeds the target',
      residents: lows(5),
      usedBytes: 500,
      wantedBytes: 900,
      expected: ['r0', 'r1', 'r2', 'r3', 'r4'],
    },
    {
      name: 'evicts everything evictable for a request of exactly the limit',
      residents: lows(5),
      usedBytes: 500,
      wantedBytes: 1000,
      expected: ['r0', 'r1', 'r2', 'r3', 'r4'],
    },
    {
      name: 'skips pinned, busy and critical segments and takes the next evictable one',
      residents: [
        res('pinned', { priority: 'low', lastUsedMs: 0, pinned: true }),
        res('busy', { priority: 'low', lastUsedMs: 0, busy: true }),
        res('critical', { priority: 'critical', lastUsedMs: 0 }),
        res('ok', { priority: 'high', lastUsedMs: NOW }),
        res('ok2', { priority: 'high', lastUsedMs: NOW }),
      ],
      usedBytes: 500,
      wantedBytes: 600,
      expected: ['ok', 'ok2'],
    },
    {
      name: 'evicts every evictable segment when reservations keep usage above the target',
      residents: lows(2),
      usedBytes: 700, // 200 resident + 500 reserved
      wantedBytes: 400,
      expected: ['r0', 'r1'],
    },
    {
      name: 'uses targetFraction 1 as "evict just enough to fit"',
      config: { targetFraction: 1 },
      residents: lows(10),
      usedBytes: 1000,
      wantedBytes: 150,
      expected: ['r0', 'r1'],
    },
  ]))('%s', (_name, { residents, usedBytes, wantedBytes, config, expected }) => {
    const plan = planAdmission(residents, usedBytes, wantedBytes, cfg(config), NOW);
    const victims = victimsOf(plan);
    expect(keys(victims)).toEqual(expected);
    for (const v of victims) expect(v.bytes).toBe(residents.find((r) => r.key === v.key)?.bytes);
    expect(usedBytes - total(victims) + wantedBytes).toBeLessThanOrEqual(cfg(config).limitBytes);
  });

  describe('victim reasons', () => {
    // Reading reasonFor: 'expired' wins; otherwise 'priority' when the victim is low or medium
    // AND its priority differs from the HIGHEST priority among all evictable residents
    // (expired ones and ones not chosen included); everything else is 'lru'.
    it.each(named<{ name: string; residents: Resident[]; ttlMs?: number; expected: [string, string][] }>([
      {
        name: "gives 'lru' when every evictable segment has the same low priority",
        residents: [res('a', { priority: 'low', lastUsedMs: 1 }), res('b', { priority: 'low', lastUsedMs: 2 })],
        expected: [['a', 'lru'], ['b', 'lru']],
      },
      {
        name: "gives 'lru' when every evictable segment has the same medium priority",
        residents: [res('a', { lastUsedMs: 1 }), res('b', { lastUsedMs: 2 })],
        expected: [['a', 'lru'], ['b', 'lru']],
      },
      {
        name: "gives 'lru' when every evictable segment is high",
        residents: [res('a', { priority: 'high', lastUsedMs: 1 }), res('b', { priority: 'high', lastUsedMs: 2 })],
        expected: [['a', 'lru'], ['b', 'lru']],
      },
      {
        name: "gives 'priority' to low and 'lru' to medium when medium is the highest evictable priority",
        residents: [res('l', { priority: 'low' }), res('m', { priority: 'medium' })],
        expected: [['l', 'priority'], ['m', 'lru']],
      },
      {
        name: "gives 'priority' to low and medium and 'lru' to high when high is present",
        residents: [res('l', { priority: 'low' }), res('m', { priority: 'medium' }), res('h', { priority: 'high' })],
        expected: [['l', 'priority'], ['m', 'priority'], ['h', 'lru']],
      },
      {
        name: "gives 'expired' to an expired segment whatever its priority",
        ttlMs: 100,
        residents: [res('xl', { priority: 'low', lastUsedMs: 0 }), res('xh', { priority: 'high', lastUsedMs: 0 }), res('live', { priority: 'high', lastUsedMs: NOW })],
        expected: [['xl', 'expired'], ['xh', 'expired'], ['live', 'lru']],
      },
      {
        name: 'counts an expired higher-priority segment when deciding the highest priority',
        ttlMs: 100,
        residents: [res('xh', { priority: 'high', lastUsedMs: 0 }), res('l', { priority: 'low', lastUsedMs: NOW }), res('m', { priority: 'medium', lastUsedMs: NOW })],
        expected: [['xh', 'expired'], ['l', 'priority'], ['m', 'priority']],
      },
      {
        name: 'ignores critical, pinned and busy segments when deciding the highest priority',
        residents: [
          res('l', { priority: 'low', lastUsedMs: 1 }),
          res('crit', { priority: 'critical' }),
          res('pinned-high', { priority: 'high', pinned: true }),
          res('busy-high', { priority: 'high', busy: true }),
        ],
        expected: [['l', 'lru']],
      },
    ]))('%s', (_name, { residents, ttlMs, expected }) => {
      // Evict everything evictable: the request takes the whole limit.
      const used = total(residents);
      const plan = planAdmission(residents, used, 1000 - total(residents.filter((r) => !isEvictable(r))), cfg({ ttlMs: ttlMs ?? 0 }), NOW);
      expect(victimsOf(plan).map((v) => [v.key, v.reason])).toEqual(expected);
    });

    it("gives 'priority' to a low victim when a higher-priority segment stays resident", () => {
      const residents = [res('l', { priority: 'low', bytes: 300 }), res('h', { priority: 'high', bytes: 300 })];
      // keepAtMost = 800 - 500 = 300: only 'l' goes.
      const plan = planAdmission(residents, 600, 500, cfg(), NOW);
      expect(victimsOf(plan)).toEqual([{ key: 'l', bytes: 300, reason: 'priority' }]);
    });
  });

  describe('ceiling (the hard level)', () => {
    // cfg(): limit 1000, target 0.8. CEILING 0.9: keepAtMost = 900 - wanted.
    const CEILING = 0.9;
    it.each(named<{ name: string; usedBytes: number; wantedBytes: number; expected: string[] | 'admit' }>([
      { name: 'evicts down to the ceiling even though the request fits the limit', usedBytes: 950, wantedBytes: 50, expected: ['r0', 'r1'] },
      { name: 'evicts until usage is at most the ceiling minus the request', usedBytes: 900, wantedBytes: 50, expected: ['r0'] },
      { name: 'evicts more for a larger request that still fits', usedBytes: 900, wantedBytes: 100, expected: ['r0', 'r1'] },
      { name: 'does not go down to the target while the request fits', usedBytes: 950, wantedBytes: 40, expected: ['r0', 'r1'] },
      { name: 'admits without victims when usage is already at the ceiling minus the request', usedBytes: 850, wantedBytes: 50, expected: 'admit' },
      { name: 'admits without victims when usage is below the ceiling minus the request', usedBytes: 300, wantedBytes: 100, expected: 'admit' },
    ]))('%s', (_name, { usedBytes, wantedBytes, expected }) => {
      const residents = Array.from({ length: usedBytes / 50 }, (_, i) => res(`r${i}`, { bytes: 50, lastUsedMs: i }));
      const plan = planAdmission(residents, usedBytes, wantedBytes, cfg(), NOW, CEILING);
      if (expected === 'admit') {
        expect(plan).toEqual({ kind: 'admit' });
      } else {
        const victims = victimsOf(plan);
        expect(keys(victims)).toEqual(expected);
        const keep = CEILING * 1000 - wantedBytes;
        expect(usedBytes - total(victims)).toBeLessThanOrEqual(keep);
        // Minimal: without the last victim usage is still above the ceiling.
        expect(usedBytes - total(victims) + (victims.at(-1)?.bytes ?? 0)).toBeGreaterThan(keep);
        expect(keys(victims)).toEqual(keys(residents).slice(0, victims.length));
      }
    });

    it('admits under a ceiling with no residents when usage is below it', () => {
      expect(planAdmission([], 0, 10, cfg(), NOW, CEILING)).toEqual({ kind: 'admit' });
    });

    it('admits under a ceiling when nothing is evictable but the request still fits the limit', () => {
      const residents = [res('p', { bytes: 900, pinned: true })];
      expect(planAdmission(residents, 900, 100, cfg(), NOW, CEILING)).toEqual({ kind: 'admit' });
    });

    it('evicts what it can when the ceiling cannot be reached but the request fits the limit', () => {
      const residents = [res('p', { bytes: 880, pinned: true }), res('a', { bytes: 50 })];
      expect(planAdmission(residents, 930, 70, cfg(), NOW, CEILING)).toEqual({ kind: 'evict', victims: [{ key: 'a', bytes: 50, reason: 'lru' }] });
    });

    it('rejects under a ceiling when the request does not fit even after evicting', () => {
      const residents = [res('p', { bytes: 900, pinned: true }), res('a', { bytes: 50 })];
      expect(planAdmission(residents, 950, 200, cfg(), NOW, CEILING)).toEqual({ kind: 'reject', wantedBytes: 200, usedBytes: 950, pinnedBytes: 900 });
    });

    it('still evicts down to the target when the request does not fit the limit', () => {
      const residents = Array.from({ length: 19 }, (_, i) => res(`r${i}`, { bytes: 50, lastUsedMs: i }));
      // 950 + 100 > 1000: keepAtMost = 800 - 100 = 700, so 5 victims (950 - 250 = 700).
      expect(keys(victimsOf(planAdmission(residents, 950, 100, cfg(), NOW, CEILING)))).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
      expect(keys(victimsOf(planAdmission(residents, 950, 100, cfg(), NOW)))).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    });
  });

  describe('rejection', () => {
    it.each(named<{ name: string; residents: Resident[]; usedBytes: number; wantedBytes: number; pinnedBytes: number }>([
      {
        name: 'rejects when pinned bytes leave no room',
        residents: [res('p', { bytes: 600, pinned: true }), res('a', { bytes: 200, priority: 'low' })],
        usedBytes: 800,
        wantedBytes: 500,
        pinnedBytes: 600,
      },
      {
        name: 'rejects when busy bytes leave no room (busy bytes are not counted as pinned)',
        residents: [res('b', { bytes: 600, busy: true }), res('a', { bytes: 200 })],
        usedBytes: 800,
        wantedBytes: 500,
        pinnedBytes: 0,
      },
      {
        name: 'rejects when critical bytes leave no room (critical bytes are not counted as pinned)',
        residents: [res('c', { bytes: 600, priority: 'critical' }), res('a', { bytes: 200 })],
        usedBytes: 800,
        wantedBytes: 500,
        pinnedBytes: 0,
      },
      {
        name: 'rejects when only pinned segments are resident, counting a busy pinned one once',
        residents: [res('pb', { bytes: 300, pinned: true, busy: true }), res('p', { bytes: 400, pinned: true, priority: 'critical' })],
        usedBytes: 700,
        wantedBytes: 400,
        pinnedBytes: 700,
      },
      {
        name: 'rejects when reservations outside the residents leave no room',
        residents: [res('a', { bytes: 100 })],
        usedBytes: 900,
        wantedBytes: 300,
        pinnedBytes: 0,
      },
      {
        name: 'rejects a request larger than the limit into an empty budget',
        residents: [],
        usedBytes: 0,
        wantedBytes: 1001,
        pinnedBytes: 0,
      },
      {
        name: 'rejects a request larger than the limit even with everything evictable',
        residents: [res('a', { bytes: 500, priority: 'low' }), res('b', { bytes: 400, priority: 'high' })],
        usedBytes: 900,
        wantedBytes: 5000,
        pinnedBytes: 0,
      },
      {
        name: 'rejects by a single byte',
        residents: [res('p', { bytes: 500, pinned: true }), res('a', { bytes: 200 })],
        usedBytes: 700,
        wantedBytes: 501,
        pinnedBytes: 500,
      },
    ]))('%s', (_name, { residents, usedBytes, wantedBytes, pinnedBytes }) => {
      for (const ceiling of [1, 0.9]) {
        const plan = planAdmission(residents, usedBytes, wantedBytes, cfg(), NOW, ceiling);
        expect(plan).toEqual({ kind: 'reject', wantedBytes, usedBytes, pinnedBytes });
        // A rejection lists no victims.
        expect('victims' in plan).toBe(false);
      }
    });

    it('admits by evicting when the same request is one byte smaller', () => {
      const residents = [res('p', { bytes: 500, pinned: true }), res('a', { bytes: 200 })];
      expect(planAdmission(residents, 700, 500, cfg(), NOW)).toEqual({ kind: 'evict', victims: [{ key: 'a', bytes: 200, reason: 'lru' }] });
    });

    it('leaves its inputs untouched when it rejects', () => {
      const residents = Object.freeze([res('p', { bytes: 600, pinned: true }), res('a', { bytes: 200 })]);
      const config = Object.freeze(cfg());
      const before = JSON.stringify([residents, config]);
      expect(planAdmission(residents, 800, 500, config, NOW).kind).toBe('reject');
      expect(JSON.stringify([residents, config])).toBe(before);
    });
  });

  describe('random resident sets (seeded)', () => {
    const SEED = 0x5eed_b0d9;
    const CASES = 500;

    it(`admits only what fits, evicts only evictable distinct victims, and rejects only when nothing could make room (seed ${SEED}, ${CASES} cases)`, () => {
      const next = rng(SEED);
      const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
      const counts = { admit: 0, evict: 0, reject: 0 };
      for (let c = 0; c < CASES; c++) {
        const limitBytes = int(100, 10_000);
        const config: PolicyConfig = {
          limitBytes,
          targetFraction: [0.5, 0.8, 0.9, 1][int(0, 3)] as number,
          ttlMs: next() < 0.3 ? 0 : int(1, 5000),
        };
        const nowMs = int(5000, 20_000);
        const residents: Resident[] = Array.from({ length: int(0, 12) }, (_, i) =>
          res(`s${c}-${i}`, {
            bytes: int(1, Math.max(1, Math.floor(limitBytes / 4))),
            priority: PRIORITIES[int(0, 3)] as Priority,
            lastUsedMs: int(0, nowMs),
            pinned: next() < 0.15,
            busy: next() < 0.15,
          }),
        );
        const reserved = next() < 0.3 ? int(0, Math.floor(limitBytes / 4)) : 0;
        const usedBytes = total(residents) + reserved;
        const wantedBytes = int(0, Math.floor(limitBytes * 1.2));
        const ceiling = next() < 0.3 ? [0.5, 0.8, 0.91, 0.95][int(0, 3)] as number : 1;
        const label = `case ${c}: ${JSON.stringify({ config, nowMs, usedBytes, wantedBytes, ceiling, residents })}`;

        const plan = planAdmission(residents, usedBytes, wantedBytes, config, nowMs, ceiling);
        const evictable = residents.filter(isEvictable);
        counts[plan.kind]++;
        if (plan.kind === 'admit') {
          expect(usedBytes + wantedBytes, label).toBeLessThanOrEqual(limitBytes);
          // Admitted without victims: under the ceiling, or nothing evictable was in the way.
          if (usedBytes + wantedBytes > ceiling * limitBytes) expect(evictable.length, label).toBe(0);
        } else if (plan.kind === 'evict') {
          const byKey = new Map(residents.map((r) => [r.key, r]));
          expect(new Set(keys(plan.victims)).size, label).toBe(plan.victims.length);
          expect(plan.victims.length, label).toBeGreaterThan(0);
          for (const v of plan.victims) {
            const r = byKey.get(v.key);
            expect(r, label).toBeDefined();
            expect(isEvictable(r as Resident), label).toBe(true);
            expect(v.bytes, label).toBe((r as Resident).bytes);
            expect(['expired', 'priority', 'lru'], label).toContain(v.reason);
            expect(v.reason === 'expired', label).toBe(isExpired(r as Resident, config.ttlMs, nowMs));
          }
          expect(usedBytes - total(plan.victims) + wantedBytes, label).toBeLessThanOrEqual(limitBytes);
          // Victims are the head of the eviction order, and no more than the depth needs: the
          // ceiling when the request fits the limit, else the target.
          expect(keys(plan.victims), label).toEqual(keys(orderForEviction(residents, config.ttlMs, nowMs)).slice(0, plan.victims.length));
          const depth = usedBytes + wantedBytes <= limitBytes ? ceiling : Math.min(config.targetFraction, ceiling);
          const keepAtMost = Math.max(0, depth * limitBytes - wantedBytes);
          const last = plan.victims.at(-1) as Victim;
          expect(usedBytes - total(plan.victims) + last.bytes, label).toBeGreaterThan(keepAtMost);
        } else {
          expect(plan.wantedBytes, label).toBe(wantedBytes);
          expect(plan.usedBytes, label).toBe(usedBytes);
          expect(plan.pinnedBytes, label).toBe(total(residents.filter((r) => r.pinned)));
          expect(usedBytes - total(evictable) + wantedBytes, label).toBeGreaterThan(limitBytes);
        }
      }
      // The generator exercises every outcome.
      expect(counts.admit).toBeGreaterThan(20);
      expect(counts.evict).toBeGreaterThan(20);
      expect(counts.reject).toBeGreaterThan(20);
    });
  });
});

describe('planSoftEviction', () => {
  it.each(named<{ name: string; residents: Resident[]; usedBytes: number; ttlMs?: number; expected: [string, string][] }>([
    {
      name: 'evicts expired and low-priority segments and skips the rest',
      ttlMs: 1000,
      residents: [
        res('medium-old', { priority: 'medium', lastUsedMs: NOW - 999 }),
        res('low-new', { priority: 'low', lastUsedMs: NOW }),
        res('high-expired', { priority: 'high', lastUsedMs: NOW - 1000 }),
        res('high-new', { priority: 'high', lastUsedMs: NOW }),
      ],
      usedBytes: 1000, // target 800: two victims reach it
      expected: [['high-expired', 'expired'], ['low-new', 'threshold']],
    },
    {
      name: 'stops once usage is at the target',
      residents: [res('a', { priority: 'low', lastUsedMs: 1 }), res('b', { priority: 'low', lastUsedMs: 2 }), res('c', { priority: 'low', lastUsedMs: 3 })],
      usedBytes: 1000,
      expected: [['a', 'threshold'], ['b', 'threshold']],
    },
    {
      name: 'stops once usage is below the target',
      residents: [res('a', { priority: 'low', bytes: 250, lastUsedMs: 1 }), res('b', { priority: 'low', lastUsedMs: 2 })],
      usedBytes: 1000,
      expected: [['a', 'threshold']],
    },
    {
      name: 'evicts nothing when usage is already at the target',
      residents: [res('a', { priority: 'low' })],
      usedBytes: 800,
      expected: [],
    },
    {
      name: 'evicts nothing when usage is below the target',
      residents: [res('a', { priority: 'low', lastUsedMs: 0 })],
      ttlMs: 1,
      usedBytes: 100,
      expected: [],
    },
    {
      name: 'evicts nothing of medium or higher priority when nothing is expired',
      residents: [res('m', { priority: 'medium' }), res('h', { priority: 'high' })],
      usedBytes: 1000,
      expected: [],
    },
    {
      name: 'treats a TTL of 0 as never expired, evicting only low-priority segments',
      ttlMs: 0,
      residents: [res('m', { priority: 'medium', lastUsedMs: 0 }), res('l', { priority: 'low', lastUsedMs: NOW })],
      usedBytes: 1000,
      expected: [['l', 'threshold']],
    },
    {
      name: 'never evicts pinned, busy or critical segments even when expired or low',
      ttlMs: 10,
      residents: [
        res('pinned', { priority: 'low', pinned: true }),
        res('busy', { priority: 'low', busy: true }),
        res('critical', { priority: 'critical', lastUsedMs: 0 }),
      ],
      usedBytes: 1000,
      expected: [],
    },
    {
      name: "gives an expired low-priority segment the reason 'expired'",
      ttlMs: 10,
      residents: [res('l', { priority: 'low', lastUsedMs: 0 })],
      usedBytes: 1000,
      expected: [['l', 'expired']],
    },
    {
      name: 'evicts expired segments before low-priority ones',
      ttlMs: 1000,
      residents: [res('low', { priority: 'low', lastUsedMs: NOW - 1 }), res('expired-medium', { priority: 'medium', lastUsedMs: 0 })],
      usedBytes: 900,
      expected: [['expired-medium', 'expired']],
    },
  ]))('%s', (_name, { residents, usedBytes, ttlMs, expected }) => {
    const victims = planSoftEviction(residents, usedBytes, cfg({ ttlMs: ttlMs ?? 0 }), NOW);
    expect(victims.map((v) => [v.key, v.reason])).toEqual(expected);
    for (const v of victims) expect(v.bytes).toBe(residents.find((r) => r.key === v.key)?.bytes);
  });

  it('counts reservations in usedBytes towards the target', () => {
    const residents = [res('a', { priority: 'low', lastUsedMs: 1 }), res('b', { priority: 'low', lastUsedMs: 2 })];
    // 200 bytes resident, the rest reserved: reservations cannot be evicted but count towards the target of 800.
    expect(keys(planSoftEviction(residents, 900, cfg(), NOW))).toEqual(['a']);
    expect(keys(planSoftEviction(residents, 1000, cfg(), NOW))).toEqual(['a', 'b']);
  });
});

describe('planEmergencyEviction', () => {
  it.each(named<{ name: string; residents: Resident[]; expected: string[] }>([
    {
      name: 'evicts every segment that is neither pinned nor critical, busy ones included',
      residents: [
        res('low', { priority: 'low' }),
        res('busy', { busy: true }),
        res('pinned', { pinned: true }),
        res('critical', { priority: 'critical' }),
        res('high', { priority: 'high', lastUsedMs: NOW }),
        res('busy-critical', { priority: 'critical', busy: true }),
        res('busy-pinned', { pinned: true, busy: true }),
      ],
      expected: ['low', 'busy', 'high'],
    },
    { name: 'keeps the input order', residents: [res('z'), res('a'), res('m')], expected: ['z', 'a', 'm'] },
    { name: 'evicts nothing when everything is pinned or critical', residents: [res('p', { pinned: true }), res('c', { priority: 'critical' })], expected: [] },
    { name: 'evicts nothing from no residents', residents: [], expected: [] },
  ]))('%s', (_name, { residents, expected }) => {
    const victims = planEmergencyEviction(residents);
    expect(keys(victims)).toEqual(expected);
    for (const v of victims) {
      expect(v.reason).toBe('threshold');
      expect(v.bytes).toBe(residents.find((r) => r.key === v.key)?.bytes);
    }
  });
});

describe('planExpiry', () => {
  const residents = [
    res('expired', { lastUsedMs: NOW - 1000 }),
    res('just-expired', { lastUsedMs: NOW - 500 }),
    res('almost', { lastUsedMs: NOW - 499 }),
    res('fresh', { lastUsedMs: NOW }),
    res('expired-pinned', { lastUsedMs: 0, pinned: true }),
    res('expired-busy', { lastUsedMs: 0, busy: true }),
    res('expired-low', { lastUsedMs: 0, priority: 'low' }),
    res('expired-high', { lastUsedMs: 0, priority: 'high' }),
    res('expired-critical', { lastUsedMs: 0, priority: 'critical' }),
  ];

  it.each(named<{ name: string; ttlMs: number; expected: string[] }>([
    { name: 'disables expiry with a TTL of 0', ttlMs: 0, expected: [] },
    {
      name: 'expires segments idle at least the TTL, any priority but critical, never pinned or busy',
      ttlMs: 500,
      expected: ['expired', 'just-expired', 'expired-low', 'expired-high'],
    },
    { name: 'expires the boundary segment once its idle time equals the TTL', ttlMs: 499, expected: ['expired', 'just-expired', 'almost', 'expired-low', 'expired-high'] },
    { name: 'expires only the long-idle segments under a long TTL', ttlMs: NOW, expected: ['expired-low', 'expired-high'] },
    { name: 'expires nothing when the TTL exceeds every idle time', ttlMs: NOW + 1, expected: [] },
  ]))('%s', (_name, { ttlMs, expected }) => {
    const victims = planExpiry(residents, ttlMs, NOW);
    expect(keys(victims)).toEqual(expected);
    for (const v of victims) {
      expect(v.reason).toBe('expired');
      expect(v.bytes).toBe(100);
    }
  });
});

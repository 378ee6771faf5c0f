// The ledger: resident + reserved bytes against a limit, checked on every change.
import { describe, expect, it } from 'vitest';

import { Ledger, type Reservation } from '../../../src/budget/ledger.js';
import { InternalError } from '../../../src/errors.js';
import { rng } from '../../support/data.js';
import { thrown } from '../../support/errors.js';

interface Snapshot {
  limitBytes: number;
  usedBytes: number;
  residentBytes: number;
  reservedBytes: number;
  peakBytes: number;
  overshoot: { count: number; maxBytes: number };
  residents: Record<string, number>;
}

function snapshot(l: Ledger): Snapshot {
  return {
    limitBytes: l.limitBytes,
    usedBytes: l.usedBytes,
    residentBytes: l.residentBytes,
    reservedBytes: l.reservedBytes,
    peakBytes: l.peakBytes,
    overshoot: { ...l.overshoot },
    residents: Object.fromEntries(l.residents()),
  };
}

/** The invariants that hold after every step. */
function checkInvariants(l: Ledger): void {
  expect(l.usedBytes).toBe(l.residentBytes + l.reservedBytes);
  let sum = 0;
  for (const [key, bytes] of l.residents()) {
    expect(bytes).toBeGreaterThan(0);
    expect(l.residentOf(key)).toBe(bytes);
    sum += bytes;
  }
  expect(l.residentBytes).toBe(sum);
  expect(l.reservedBytes).toBeGreaterThanOrEqual(0);
  expect(l.peakBytes).toBeGreaterThanOrEqual(l.usedBytes);
  if (l.usedBytes > l.limitBytes) expect(l.overshoot.count).toBeGreaterThan(0);
}


function expectInternal(fn: () => unknown): InternalError {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(InternalError);
  expect((err as InternalError).code).toBe('SHOAL_INTERNAL');
  return err as InternalError;
}

type Step =
  | { op: 'reserve'; name: string; bytes: number; force?: boolean }
  | { op: 'release'; name: string }
  | { op: 'settle'; key: string; bytes: number; name?: string }
  | { op: 'setLimit'; bytes: number };

/** Runs steps on a fresh ledger, checking the invariants after each, and returns it. */
function run(limit: number, steps: readonly Step[]): Ledger {
  const l = new Ledger(limit);
  const held = new Map<string, Reservation>();
  for (const s of steps) {
    if (s.op === 'reserve') held.set(s.name, l.reserve(s.bytes, s.name, s.force ?? false));
    else if (s.op === 'release') l.release(held.get(s.name) as Reservation);
    else if (s.op === 'settle') l.settle(s.key, s.bytes, s.name === undefined ? undefined : held.get(s.name));
    else l.setLimit(s.bytes);
    checkInvariants(l);
  }
  return l;
}

function named<T extends { name: string }>(rows: T[]): [string, T][] {
  return rows.map((r) => [r.name, r]);
}

describe('Ledger', () => {
  it('starts empty at its limit', () => {
    const l = new Ledger(1000);
    expect(snapshot(l)).toEqual({
      limitBytes: 1000,
      usedBytes: 0,
      residentBytes: 0,
      reservedBytes: 0,
      peakBytes: 0,
      overshoot: { count: 0, maxBytes: 0 },
      residents: {},
    });
    expect(l.residentOf('nothing')).toBe(0);
  });

  describe('arithmetic', () => {
    it.each(
      named<{ name: string; limit?: number; steps: Step[]; expected: Partial<Snapshot> }>([
        {
          name: 'counts a reservation as used and reserved',
          steps: [{ op: 'reserve', name: 'a', bytes: 300 }],
          expected: { usedBytes: 300, reservedBytes: 300, residentBytes: 0, peakBytes: 300 },
        },
        {
          name: 'adds reservations together',
          steps: [
            { op: 'reserve', name: 'a', bytes: 300 },
            { op: 'reserve', name: 'b', bytes: 200 },
          ],
          expected: { usedBytes: 500, reservedBytes: 500, peakBytes: 500 },
        },
        {
          name: 'rounds a fractional reservation up to whole bytes',
          steps: [{ op: 'reserve', name: 'a', bytes: 10.2 }],
          expected: { reservedBytes: 11 },
        },
        {
          name: 'treats a negative reservation as 0 bytes',
          steps: [{ op: 'reserve', name: 'a', bytes: -50 }],
          expected: { reservedBytes: 0, usedBytes: 0 },
        },
        {
          name: 'fills the limit exactly',
          steps: [
            { op: 'reserve', name: 'a', bytes: 600 },
            { op: 'reserve', name: 'b', bytes: 400 },
          ],
          expected: { usedBytes: 1000, overshoot: { count: 0, maxBytes: 0 } },
        },
        {
          name: 'gives back what release frees',
          steps: [
            { op: 'reserve', name: 'a', bytes: 300 },
            { op: 'reserve', name: 'b', bytes: 200 },
            { op: 'release', name: 'a' },
          ],
          expected: { usedBytes: 200, reservedBytes: 200, peakBytes: 500 },
        },
        {
          name: 'ignores a second release of the same reservation',
          steps: [
            { op: 'reserve', name: 'a', bytes: 300 },
            { op: 'reserve', name: 'b', bytes: 200 },
            { op: 'release', name: 'a' },
            { op: 'release', name: 'a' },
          ],
          expected: { usedBytes: 200, reservedBytes: 200 },
        },
        {
          name: 'turns a reservation into resident bytes on settle',
          steps: [
            { op: 'reserve', name: 'r', bytes: 400 },
            { op: 'settle', key: 's1', bytes: 350, name: 'r' },
          ],
          expected: { usedBytes: 350, reservedBytes: 0, residentBytes: 350, residents: { s1: 350 }, peakBytes: 400 },
        },
        {
          name: 'settles more than was reserved when it fits',
          steps: [
            { op: 'reserve', name: 'r', bytes: 100 },
            { op: 'settle', key: 's1', bytes: 250, name: 'r' },
          ],
          expected: { usedBytes: 250, reservedBytes: 0, residentBytes: 250, peakBytes: 250, overshoot: { count: 0, maxBytes: 0 } },
        },
        {
          name: 'does not count the reservation and the resident bytes together at the peak',
          steps: [
            { op: 'reserve', name: 'r', bytes: 400 },
            { op: 'settle', key: 's1', bytes: 400, name: 'r' },
          ],
          expected: { usedBytes: 400, peakBytes: 400 },
        },
        {
          name: 'settles without a reservation',
          steps: [{ op: 'settle', key: 's1', bytes: 120 }],
          expected: { usedBytes: 120, residentBytes: 120, residents: { s1: 120 } },
        },
        {
          name: 'replaces a resident\'s bytes on a second settle (grow)',
          steps: [
            { op: 'settle', key: 's1', bytes: 100 },
            { op: 'reserve', name: 'grow', bytes: 200 },
            { op: 'settle', key: 's1', bytes: 280, name: 'grow' },
          ],
          expected: { usedBytes: 280, residentBytes: 280, reservedBytes: 0, residents: { s1: 280 }, peakBytes: 300 },
        },
        {
          name: 'replaces a resident\'s bytes on a second settle (shrink)',
          steps: [
            { op: 'settle', key: 's1', bytes: 500 },
            { op: 'settle', key: 's1', bytes: 200 },
          ],
          expected: { usedBytes: 200, residentBytes: 200, residents: { s1: 200 }, peakBytes: 500 },
        },
        {
          name: 'removes a resident settled to 0',
          steps: [
            { op: 'settle', key: 's1', bytes: 500 },
            { op: 'settle', key: 's2', bytes: 100 },
            { op: 'settle', key: 's1', bytes: 0 },
          ],
          expected: { usedBytes: 100, residentBytes: 100, residents: { s2: 100 }, peakBytes: 600 },
        },
        {
          name: 'removes nothing when settling an unknown key to 0',
          steps: [
            { op: 'settle', key: 's1', bytes: 100 },
            { op: 'settle', key: 'ghost', bytes: 0 },
          ],
          expected: { usedBytes: 100, residents: { s1: 100 } },
        },
        {
          name: 'releases a reservation while settling a resident to 0 (a failed load)',
          steps: [
            { op: 'reserve', name: 'load', bytes: 300 },
            { op: 'settle', key: 's1', bytes: 0, name: 'load' },
          ],
          expected: { usedBytes: 0, reservedBytes: 0, residents: {}, peakBytes: 300 },
        },
        {
          name: 'ignores a reservation already released when settling',
          steps: [
            { op: 'reserve', name: 'r', bytes: 300 },
            { op: 'reserve', name: 'other', bytes: 100 },
            { op: 'release', name: 'r' },
            { op: 'settle', key: 's1', bytes: 50, name: 'r' },
          ],
          expected: { usedBytes: 150, reservedBytes: 100, residentBytes: 50 },
        },
        {
          name: 'keeps the highest usage as the peak',
          steps: [
            { op: 'settle', key: 's1', bytes: 300 },
            { op: 'reserve', name: 'a', bytes: 600 },
            { op: 'release', name: 'a' },
            { op: 'settle', key: 's1', bytes: 0 },
            { op: 'reserve', name: 'b', bytes: 100 },
          ],
          expected: { usedBytes: 100, peakBytes: 900 },
        },
        {
          name: 'raises the limit',
          steps: [
            { op: 'settle', key: 's1', bytes: 900 },
            { op: 'setLimit', bytes: 2000 },
            { op: 'reserve', name: 'a', bytes: 1100 },
          ],
          expected: { limitBytes: 2000, usedBytes: 2000 },
        },
        {
          name: 'lowers the limit to exactly what is used',
          steps: [
            { op: 'settle', key: 's1', bytes: 400 },
            { op: 'reserve', name: 'a', bytes: 100 },
            { op: 'setLimit', bytes: 500 },
          ],
          expected: { limitBytes: 500, usedBytes: 500 },
        },
      ]),
    )('%s', (_name, { limit, steps, expected }) => {
      const l = run(limit ?? 1000, steps);
      expect(snapshot(l)).toMatchObject(expected);
    });

    it('hands out distinct reservation ids carrying their bytes and label', () => {
      const l = new Ledger(1000);
      const a = l.reserve(10, 'load s1');
      const b = l.reserve(20.5, 'grow s2');
      expect(a).toEqual({ id: a.id, bytes: 10, label: 'load s1' });
      expect(b).toEqual({ id: b.id, bytes: 21, label: 'grow s2' });
      expect(a.id).not.toBe(b.id);
    });
  });

  describe('fits', () => {
    it.each<[number, number, boolean]>([
      [0, 1000, true],
      [700, 300, true],
      [700, 301, false],
      [1000, 0, true],
      [1000, 1, false],
    ])('with %i bytes used, says whether %i more bytes fit: %s', (used, more, expected) => {
      const l = new Ledger(1000);
      if (used > 0) l.settle('s', used);
      expect(l.fits(more)).toBe(expected);
    });
  });

  describe('refusals', () => {
    it.each(
      named<{ name: string; steps: Step[]; bytes: number }>([
        { name: 'refuses a reservation larger than the limit', steps: [], bytes: 1001 },
        { name: 'refuses a reservation one byte past what is left', steps: [{ op: 'reserve', name: 'a', bytes: 700 }], bytes: 301 },
        { name: 'refuses a fractional reservation that only fits before rounding up', steps: [{ op: 'settle', key: 's', bytes: 900 }], bytes: 100.5 },
        {
          name: 'refuses when residents and reservations together leave no room',
          steps: [
            { op: 'settle', key: 's', bytes: 600 },
            { op: 'reserve', name: 'a', bytes: 300 },
          ],
          bytes: 101,
        },
      ]),
    )('%s, with an InternalError, changing nothing', (_name, { steps, bytes }) => {
      const l = run(1000, steps);
      const before = snapshot(l);
      const err = expectInternal(() => l.reserve(bytes, 'the-label'));
      expect(err.message).toContain('the-label');
      expect(err.message).toContain(String(Math.ceil(bytes)));
      expect(snapshot(l)).toEqual(before);
      checkInvariants(l);
      // The ids keep going: a later reservation works as usual.
      expect(l.reserve(0, 'later').bytes).toBe(0);
    });

    it.each(
      named<{ name: string; steps: Step[]; limit: number }>([
        { name: 'refuses a limit one byte below what is used', steps: [{ op: 'settle', key: 's', bytes: 500 }], limit: 499 },
        { name: 'refuses a limit below what is reserved', steps: [{ op: 'reserve', name: 'a', bytes: 500 }], limit: 100 },
        { name: 'refuses a limit of 0 while anything is accounted', steps: [{ op: 'settle', key: 's', bytes: 1 }], limit: 0 },
      ]),
    )('%s and keeps the old limit', (_name, { steps, limit }) => {
      const l = run(1000, steps);
      const before = snapshot(l);
      const err = expectInternal(() => l.setLimit(limit));
      expect(err.message).toContain(String(limit));
      expect(snapshot(l)).toEqual(before);
    });
  });

  describe('overshoot', () => {
    it.each(
      named<{ name: string; steps: Step[]; expected: Partial<Snapshot> }>([
        {
          name: 'makes a forced reservation that does not fit and counts the overshoot',
          steps: [
            { op: 'settle', key: 's', bytes: 900 },
            { op: 'reserve', name: 'a', bytes: 250, force: true },
          ],
          expected: { usedBytes: 1150, reservedBytes: 250, peakBytes: 1150, overshoot: { count: 1, maxBytes: 150 } },
        },
        {
          name: 'counts nothing for a forced reservation that fits',
          steps: [{ op: 'reserve', name: 'a', bytes: 1000, force: true }],
          expected: { usedBytes: 1000, overshoot: { count: 0, maxBytes: 0 } },
        },
        {
          name: 'counts each forced overshoot and keeps the largest excess',
          steps: [
            { op: 'reserve', name: 'a', bytes: 1300, force: true },
            { op: 'release', name: 'a' },
            { op: 'reserve', name: 'b', bytes: 1100, force: true },
          ],
          expected: { usedBytes: 1100, overshoot: { count: 2, maxBytes: 300 } },
        },
        {
          name: 'counts a settle that grows usage past the limit',
          steps: [
            { op: 'reserve', name: 'r', bytes: 500 },
            { op: 'settle', key: 's', bytes: 1200, name: 'r' },
          ],
          expected: { usedBytes: 1200, overshoot: { count: 1, maxBytes: 200 } },
        },
        {
          name: 'counts a settle that grows usage past the limit through other reservations',
          steps: [
            { op: 'reserve', name: 'other', bytes: 900 },
            { op: 'settle', key: 's', bytes: 150 },
          ],
          expected: { usedBytes: 1050, overshoot: { count: 1, maxBytes: 50 } },
        },
        {
          name: 'does not count a settle that shrinks a resident while over the limit',
          steps: [
            { op: 'settle', key: 's', bytes: 1500 },
            { op: 'settle', key: 's', bytes: 1200 },
          ],
          expected: { usedBytes: 1200, overshoot: { count: 1, maxBytes: 500 } },
        },
        {
          name: 'does not count a settle that keeps a resident\'s size while over the limit',
          steps: [
            { op: 'settle', key: 's', bytes: 1100 },
            { op: 'settle', key: 's', bytes: 1100 },
          ],
          expected: { usedBytes: 1100, overshoot: { count: 1, maxBytes: 100 } },
        },
        {
          name: 'counts nothing for a settle that ends exactly at the limit',
          steps: [
            { op: 'reserve', name: 'r', bytes: 100 },
            { op: 'settle', key: 's', bytes: 1000, name: 'r' },
          ],
          expected: { usedBytes: 1000, overshoot: { count: 0, maxBytes: 0 } },
        },
      ]),
    )('%s', (_name, { steps, expected }) => {
      expect(snapshot(run(1000, steps))).toMatchObject(expected);
    });
  });

  describe('random sequences (seeded)', () => {
    const SEED = 0x1ed6_e125;
    const SEQUENCES = 50;
    const STEPS = 200;

    it(`keeps used = resident + reserved, the peak and the overshoot count exact after every step (seed ${SEED}, ${SEQUENCES} x ${STEPS} steps)`, () => {
      const next = rng(SEED);
      const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
      const seen = { refusedReserve: 0, refusedLimit: 0, forcedOvershoot: 0, settles: 0, releases: 0 };
      for (let q = 0; q < SEQUENCES; q++) {
        let limit = int(1000, 100_000);
        const l = new Ledger(limit);
        // The model the ledger must agree with.
        const residents = new Map<string, number>();
        const live = new Map<number, Reservation>();
        const all: Reservation[] = [];
        let peak = 0;
        let overshoots = 0;
        let maxOvershoot = 0;
        const used = (): number => [...residents.values()].reduce((s, b) => s + b, 0) + [...live.values()].reduce((s, r) => s + r.bytes, 0);

        for (let i = 0; i < STEPS; i++) {
          const label = `sequence ${q}, step ${i}`;
          const roll = next();
          if (roll < 0.35) {
            const bytes = next() < 0.2 ? next() * limit * 0.5 : int(0, Math.floor(limit / 3));
            const force = next() < 0.1;
            const whole = Math.max(0, Math.ceil(bytes));
            const fits = used() + whole <= limit;
            if (!fits && !force) {
              const before = snapshot(l);
              expectInternal(() => l.reserve(bytes, label));
              expect(snapshot(l), label).toEqual(before);
              seen.refusedReserve++;
            } else {
              if (!fits) {
                overshoots++;
                maxOvershoot = Math.max(maxOvershoot, used() + whole - limit);
                seen.forcedOvershoot++;
              }
              const r = l.reserve(bytes, label, force);
              expect(r.bytes, label).toBe(whole);
              live.set(r.id, r);
              all.push(r);
            }
          } else if (roll < 0.55) {
            // Any reservation ever made: releasing one twice is harmless.
            const r = all[int(0, all.length - 1)];
            if (r !== undefined) {
              l.release(r);
              live.delete(r.id);
              seen.releases++;
            }
          } else if (roll < 0.9) {
            const key = `s${int(0, 7)}`;
            const bytes = next() < 0.25 ? 0 : int(1, Math.floor(limit / 2));
            const pool = [...live.values()];
            const r = next() < 0.6 ? pool[int(0, pool.length - 1)] : undefined;
            const before = residents.get(key) ?? 0;
            if (r !== undefined) live.delete(r.id);
            if (bytes > 0) residents.set(key, bytes);
            else residents.delete(key);
            if (used() > limit && bytes > before) {
              overshoots++;
              maxOvershoot = Math.max(maxOvershoot, used() - limit);
            }
            l.settle(key, bytes, r);
            seen.settles++;
          } else {
            const bytes = int(Math.max(1, Math.floor(used() * 0.8)), used() + 100_000);
            if (bytes < used()) {
              expectInternal(() => l.setLimit(bytes));
              seen.refusedLimit++;
            } else {
              l.setLimit(bytes);
              limit = bytes;
            }
          }
          peak = Math.max(peak, used());

          // One cheap comparison per step (thousands of expect() calls would dominate the run).
          const reserved = [...live.values()].reduce((s, r) => s + r.bytes, 0);
          const actual = {
            ...snapshot(l),
            sumOfResidents: [...l.residents().values()].reduce((s, b) => s + b, 0),
            overLimitUncounted: l.usedBytes > l.limitBytes && l.overshoot.count === 0,
          };
          const model = {
            limitBytes: limit,
            usedBytes: used(),
            residentBytes: used() - reserved,
            reservedBytes: reserved,
            peakBytes: peak,
            overshoot: { count: overshoots, maxBytes: maxOvershoot },
            residents: Object.fromEntries(residents),
            sumOfResidents: used() - reserved,
            overLimitUncounted: false,
          };
          if (JSON.stringify(actual) !== JSON.stringify(model)) expect(actual, label).toEqual(model);
        }
      }
      // The generator reaches every branch.
      for (const [what, n] of Object.entries(seen)) expect(n, what).toBeGreaterThan(5);
    });
  });

  it('refuses a negative size with InternalError and keeps its books', () => {
    const l = new Ledger(1000);
    l.settle('s1', 100);
    expect(() => l.settle('s1', -5)).toThrow(expect.objectContaining({ code: 'SHOAL_INTERNAL' }));
    expect(l.residentOf('s1')).toBe(100);
    checkInvariants(l);
  });
});

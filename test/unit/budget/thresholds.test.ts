// Pressure levels with hysteresis: entered at a threshold, left only HYSTERESIS_GAP below it.
import { describe, expect, it } from 'vitest';

import { admissionCeiling, HYSTERESIS_GAP, LEVELS, type Level, nextLevel } from '../../../src/budget/thresholds.js';
import type { Thresholds } from '../../../src/config.js';
import { DEFAULTS } from '../../../src/config.js';
import { rng } from '../../support/data.js';

const T: Thresholds = { soft: 0.8, hard: 0.9, emergency: 0.95 };
const GAP = HYSTERESIS_GAP;
/** Far smaller than any gap, far larger than float rounding. */
const EPS = 1e-9;

/** The level with no hysteresis at all: the highest threshold reached. */
function plainLevel(used: number, t: Thresholds): Level {
  if (used >= t.emergency) return 'emergency';
  if (used >= t.hard) return 'hard';
  if (used >= t.soft) return 'soft';
  return 'normal';
}

function named<T extends { name: string }>(rows: T[]): [string, T][] {
  return rows.map((r) => [r.name, r]);
}

describe('nextLevel', () => {
  it('uses a gap of 0.02', () => {
    expect(HYSTERESIS_GAP).toBe(0.02);
    expect(LEVELS).toEqual(['normal', 'soft', 'hard', 'emergency']);
  });

  describe('rising', () => {
    it.each(
      named<{ name: string; previous: Level; used: number; expected: Level }>([
        { name: 'stays normal at no usage', previous: 'normal', used: 0, expected: 'normal' },
        { name: 'stays normal just below the soft threshold', previous: 'normal', used: T.soft - EPS, expected: 'normal' },
        { name: 'enters soft exactly at the soft threshold', previous: 'normal', used: T.soft, expected: 'soft' },
        { name: 'is soft between the soft and hard thresholds', previous: 'normal', used: 0.85, expected: 'soft' },
        { name: 'stays soft just below the hard threshold', previous: 'soft', used: T.hard - EPS, expected: 'soft' },
        { name: 'enters hard exactly at the hard threshold', previous: 'soft', used: T.hard, expected: 'hard' },
        { name: 'stays hard just below the emergency threshold', previous: 'hard', used: T.emergency - EPS, expected: 'hard' },
        { name: 'enters emergency exactly at the emergency threshold', previous: 'hard', used: T.emergency, expected: 'emergency' },
        { name: 'is emergency above the limit', previous: 'hard', used: 1.5, expected: 'emergency' },
        { name: 'jumps straight from normal to hard', previous: 'normal', used: T.hard, expected: 'hard' },
        { name: 'jumps straight from normal to emergency', previous: 'normal', used: T.emergency, expected: 'emergency' },
        { name: 'jumps straight from normal to emergency when usage is over the limit', previous: 'normal', used: 1.01, expected: 'emergency' },
        { name: 'jumps straight from soft to emergency', previous: 'soft', used: 0.99, expected: 'emergency' },
        { name: 'gives no head start from below: soft needs the full hard threshold', previous: 'soft', used: T.hard - GAP / 2, expected: 'soft' },
        { name: 'gives no head start from below: normal needs the full soft threshold', previous: 'normal', used: T.soft - GAP / 2, expected: 'normal' },
      ]),
    )('%s', (_name, { previous, used, expected }) => {
      expect(nextLevel(previous, used, T)).toBe(expected);
    });
  });

  describe('hysteresis and falling', () => {
    it.each(
      named<{ name: string; previous: Level; used: number; expected: Level }>([
        { name: 'stays soft just below the soft threshold', previous: 'soft', used: T.soft - EPS, expected: 'soft' },
        { name: 'stays soft half a gap below the soft threshold', previous: 'soft', used: T.soft - GAP / 2, expected: 'soft' },
        { name: 'stays soft exactly a gap below the soft threshold', previous: 'soft', used: T.soft - GAP, expected: 'soft' },
        { name: 'falls to normal just more than a gap below the soft threshold', previous: 'soft', used: T.soft - GAP - EPS, expected: 'normal' },
        { name: 'stays hard exactly a gap below the hard threshold', previous: 'hard', used: T.hard - GAP, expected: 'hard' },
        { name: 'falls from hard to soft just more than a gap below the hard threshold', previous: 'hard', used: T.hard - GAP - EPS, expected: 'soft' },
        { name: 'stays emergency exactly a gap below the emergency threshold', previous: 'emergency', used: T.emergency - GAP, expected: 'emergency' },
        { name: 'falls from emergency to hard just more than a gap below the emergency threshold', previous: 'emergency', used: T.emergency - GAP - EPS, expected: 'hard' },
        { name: 'falls from emergency to normal in one step', previous: 'emergency', used: 0.5, expected: 'normal' },
        { name: 'falls from emergency to soft in one step', previous: 'emergency', used: 0.85, expected: 'soft' },
        { name: 'falls from hard to normal in one step', previous: 'hard', used: 0.1, expected: 'normal' },
        { name: 'keeps the lower levels\' gaps when falling several levels: emergency to soft within soft\'s gap', previous: 'emergency', used: T.soft - GAP / 2, expected: 'soft' },
        { name: 'keeps soft when falling from hard into soft\'s gap', previous: 'hard', used: T.soft - GAP / 2, expected: 'soft' },
        { name: 'falls from hard below soft\'s gap to normal', previous: 'hard', used: T.soft - GAP - EPS, expected: 'normal' },
        { name: 'falls to normal at no usage from any level', previous: 'emergency', used: 0, expected: 'normal' },
        { name: 'falls from emergency to hard inside hard\'s gap', previous: 'emergency', used: T.hard - GAP / 2, expected: 'hard' },
      ]),
    )('%s', (_name, { previous, used, expected }) => {
      expect(nextLevel(previous, used, T)).toBe(expected);
    });
  });

  describe('the gap argument', () => {
    it.each(
      named<{ name: string; previous: Level; used: number; gap: number; expected: Level }>([
        { name: 'has no hysteresis with a gap of 0', previous: 'soft', used: T.soft - EPS, gap: 0, expected: 'normal' },
        { name: 'keeps a level at its threshold with a gap of 0', previous: 'hard', used: T.hard, gap: 0, expected: 'hard' },
        { name: 'holds a level further down with a wider gap', previous: 'soft', used: T.soft - 0.09, gap: 0.1, expected: 'soft' },
        { name: 'drops a level once below a wider gap', previous: 'soft', used: T.soft - 0.11, gap: 0.1, expected: 'normal' },
        { name: 'does not let a wide gap raise the level from below', previous: 'normal', used: T.soft - 0.05, gap: 0.1, expected: 'normal' },
      ]),
    )('%s', (_name, { previous, used, gap, expected }) => {
      expect(nextLevel(previous, used, T, gap)).toBe(expected);
    });
  });

  it.each(LEVELS.map((l) => [l]))('works with the default thresholds from %s', (previous) => {
    const d = DEFAULTS.thresholds;
    expect(nextLevel(previous, d.emergency, d)).toBe('emergency');
    expect(nextLevel(previous, 0, d)).toBe('normal');
    expect(nextLevel(previous, d.hard, d)).toBe('hard');
  });

  describe('usage oscillating ±1% around a threshold', () => {
    const cases = LEVELS.slice(1).flatMap((level) => {
      const bound = T[level as keyof Thresholds];
      const below = LEVELS[LEVELS.indexOf(level) - 1] as Level;
      return [
        { level, bound, start: below, firstUp: true },
        { level, bound, start: below, firstUp: false },
        { level, bound, start: level, firstUp: true },
        { level, bound, start: level, firstUp: false },
      ];
    });

    it.each(cases.map((c) => [c.level, c.start, c.firstUp ? 'up' : 'down', c] as const))(
      'changes level at most once around the %s threshold, starting %s and moving %s first',
      (_level, _start, _dir, { bound, start, firstUp, level }) => {
        let current: Level = start;
        let changes = 0;
        const seen: Level[] = [];
        for (let i = 0; i < 200; i++) {
          const up = (i % 2 === 0) === firstUp;
          const used = bound + (up ? 0.01 : -0.01);
          const next = nextLevel(current, used, T);
          if (next !== current) changes++;
          current = next;
          seen.push(current);
        }
        expect(changes).toBeLessThanOrEqual(1);
        // Once the threshold has been crossed upwards the level sticks.
        expect(seen.at(-1)).toBe(level);
      },
    );

    it('flaps when the swing is wider than the gap (the gap is what prevents flapping)', () => {
      let current: Level = 'normal';
      let changes = 0;
      for (let i = 0; i < 20; i++) {
        const next = nextLevel(current, T.soft + (i % 2 === 0 ? 0.03 : -0.03), T);
        if (next !== current) changes++;
        current = next;
      }
      expect(changes).toBe(20);
    });
  });

  describe('random usage (seeded)', () => {
    const SEED = 0x7a11_0c1e;
    it(`lies between the plain level and the previous level, and repeating an input is stable (seed ${SEED}, 2000 steps)`, () => {
      const next = rng(SEED);
      let previous: Level = 'normal';
      for (let i = 0; i < 2000; i++) {
        const used = next() * 1.1;
        const level = nextLevel(previous, used, T);
        const plain = LEVELS.indexOf(plainLevel(used, T));
        const got = LEVELS.indexOf(level);
        const label = `step ${i}: previous ${previous}, used ${used}`;
        expect(got, label).toBeGreaterThanOrEqual(plain);
        expect(got, label).toBeLessThanOrEqual(Math.max(plain, LEVELS.indexOf(previous)));
        // Never held more than a gap below the threshold of the level it reports.
        if (got > 0) expect(used, label).toBeGreaterThanOrEqual([0, T.soft, T.hard, T.emergency][got]! - GAP - EPS);
        expect(nextLevel(level, used, T), label).toBe(level);
        previous = level;
      }
    });
  });
});

describe('admissionCeiling', () => {
  it.each(
    named<{ name: string; level: Level; projected: number; expected: number }>([
      { name: 'is the whole limit at the normal level, below hard', level: 'normal', projected: 0.5, expected: 1 },
      { name: 'is the whole limit at the soft level, just below hard', level: 'soft', projected: T.hard - EPS, expected: 1 },
      { name: 'is the hard threshold when the admission would reach it', level: 'soft', projected: T.hard, expected: T.hard },
      { name: 'is the hard threshold when the admission would pass the limit', level: 'normal', projected: 1.2, expected: T.hard },
      { name: 'is the hard threshold at the hard level, even while usage is in the gap below it', level: 'hard', projected: T.hard - GAP / 2, expected: T.hard },
      { name: 'is the hard threshold at the emergency level', level: 'emergency', projected: 0.1, expected: T.hard },
    ]),
  )('%s', (_, { level, projected, expected }) => {
    expect(admissionCeiling(level, projected, T)).toBe(expected);
  });
});

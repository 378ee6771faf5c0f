/**
 * The pressure level for a usage fraction, with hysteresis: a level is entered at its
 * threshold and left only `gap` below it, so usage hovering at a boundary does not flap.
 * Pure.
 */
import type { Thresholds } from '../config.js';

export type Level = 'normal' | 'soft' | 'hard' | 'emergency';
export const LEVELS: readonly Level[] = ['normal', 'soft', 'hard', 'emergency'];

export const HYSTERESIS_GAP = 0.02;

export function nextLevel(previous: Level, usedFraction: number, t: Thresholds, gap = HYSTERESIS_GAP): Level {
  const bounds = [Number.NEGATIVE_INFINITY, t.soft, t.hard, t.emergency];
  const held = LEVELS.indexOf(previous);
  let level = 0;
  for (let i = 1; i < bounds.length; i++) {
    const stay = held >= i ? gap : 0; // at level i or above already: keep it until bound - gap
    if (usedFraction >= (bounds[i] as number) - stay) level = i;
  }
  return LEVELS[level] as Level;
}

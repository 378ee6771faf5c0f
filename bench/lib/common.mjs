/** Helpers shared by the scenario modules. */
import { GRAPH } from './protocol.mjs';
import { percentile, settledRss } from './stats.mjs';

export { GRAPH, percentile, settledRss };
export const now = () => performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const fmt = (x, digits = 0) => (x === undefined || x === null || Number.isNaN(x) ? '—' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
export const mib = (b) => fmt(b / 2 ** 20, 1);
export const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '—');

export function summary(values) {
  let sum = 0;
  for (const v of values) sum += v;
  return { count: values.length, mean: values.length ? sum / values.length : NaN, p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99), max: percentile(values, 100) };
}

/** Keeps at most `max` evenly spaced entries (for charts). */
export function thin(arr, max = 300) {
  if (arr.length <= max) return arr;
  const step = arr.length / max;
  return Array.from({ length: max }, (_, i) => arr[Math.floor(i * step)]);
}

/** Markdown table from a header row and rows. */
export function table(header, rows, align) {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (align?.[i] === 'l' || (!align && i === 0) ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** Timing and accuracy helpers shared by the engine adapters. */

/** Seconds taken by fn (sync or async), with the monotonic high-resolution clock. */
export async function seconds(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Same, for a synchronous fn, so the timed region holds no await or promise machinery. */
export function secondsSync(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Mean over queries of |found ∩ truth| / k. Both are flat nq x k label arrays. */
export function recallAtK(found, truth, nq, k) {
  let hits = 0;
  for (let q = 0; q < nq; q++) {
    const want = new Set(truth.subarray(q * k, q * k + k));
    for (let j = 0; j < k; j++) if (want.has(found[q * k + j])) hits++;
  }
  return hits / (nq * k);
}

/** Number of queries whose k labels differ between two flat nq x k result arrays. */
export function differingQueries(a, b, nq, k) {
  let n = 0;
  for (let q = 0; q < nq; q++) {
    for (let j = 0; j < k; j++) {
      if (a[q * k + j] !== b[q * k + j]) {
        n++;
        break;
      }
    }
  }
  return n;
}

/** FNV-1a over 32-bit values, as hex: a cheap fingerprint of a result array. */
export function digest(u32) {
  let h = 0x811c9dc5;
  for (let i = 0; i < u32.length; i++) h = Math.imul(h ^ u32[i], 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** RSS after a full GC (children run with --expose-gc), so garbage does not count. */
export function settledRss() {
  if (globalThis.gc) {
    globalThis.gc();
    globalThis.gc();
  }
  return process.memoryUsage();
}

/** The p-th percentile (0..100) of `values`, nearest-rank on a sorted copy. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

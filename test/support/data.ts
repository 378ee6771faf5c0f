/** Deterministic test data and an exact k-NN oracle. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** mulberry32: a small, fast, seedable PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n x dim uniform floats in [-1, 1). */
export function randomVectors(n: number, dim: number, seed: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) out[i] = next() * 2 - 1;
  return out;
}

export function range(n: number, start = 0): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i;
  return out;
}

export type Space = 'l2' | 'ip' | 'cosine';

export function distance(space: Space, a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let l2 = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    l2 += (x - y) * (x - y);
    na += x * x;
    nb += y * y;
  }
  if (space === 'l2') return l2;
  if (space === 'ip') return 1 - dot;
  return 1 - dot / Math.sqrt(na * nb);
}

/** Exact k nearest of each query among `labels` rows of `base`, nearest first. */
export function bruteForceKnn(
  space: Space,
  base: Float32Array,
  labels: ArrayLike<number>,
  queries: Float32Array,
  dim: number,
  k: number,
): number[][] {
  const out: number[][] = [];
  for (let q = 0; q < queries.length / dim; q++) {
    const query = queries.subarray(q * dim, (q + 1) * dim);
    const scored: [number, number][] = [];
    for (let i = 0; i < labels.length; i++) {
      scored.push([distance(space, query, base.subarray(i * dim, (i + 1) * dim)), labels[i] as number]);
    }
    scored.sort((x, y) => x[0] - y[0]);
    out.push(scored.slice(0, k).map((s) => s[1]));
  }
  return out;
}

/** Fraction of the true top-k found in `found` (queries x k, flat). */
export function recallAtK(found: ArrayLike<number>, truth: number[][], k: number): number {
  let hits = 0;
  truth.forEach((row, q) => {
    const got = new Set(Array.from({ length: k }, (_, j) => found[q * k + j]));
    for (const t of row.slice(0, k)) if (got.has(t)) hits++;
  });
  return hits / (truth.length * k);
}

// Vendored in the repository (gzip: 1.4 MB instead of 5.2 MB), so a fresh clone tests alone.
const SIFT = fileURLToPath(new URL('../fixtures/siftsmall/', import.meta.url));

function readVecs(file: string, Kind: Float32ArrayConstructor | Int32ArrayConstructor): { dim: number; data: Float32Array | Int32Array } {
  const buf = gunzipSync(readFileSync(`${SIFT}${file}.gz`));
  const dim = buf.readInt32LE(0);
  const rowBytes = 4 + 4 * dim;
  if (buf.length % rowBytes !== 0) throw new Error(`${file}: ${buf.length} bytes is not a whole number of ${rowBytes}-byte rows`);
  const rows = buf.length / rowBytes;
  const data = new Kind(rows * dim);
  for (let r = 0; r < rows; r++) {
    if (buf.readInt32LE(r * rowBytes) !== dim) throw new Error(`${file}: row ${r} has a different dimension`);
    // Copy out of the Buffer: its offset in the pool need not be 4-byte aligned.
    data.set(new Kind(buf.buffer.slice(buf.byteOffset + r * rowBytes + 4, buf.byteOffset + (r + 1) * rowBytes)), r * dim);
  }
  return { dim, data };
}

/** The siftsmall set (test/fixtures/siftsmall): 10,000 base, 100 queries, exact top-100 (L2). */
export function loadSiftSmall(): { dim: number; base: Float32Array; queries: Float32Array; truth: number[][] } {
  const base = readVecs('siftsmall_base.fvecs', Float32Array);
  const queries = readVecs('siftsmall_query.fvecs', Float32Array);
  const gt = readVecs('siftsmall_groundtruth.ivecs', Int32Array);
  const truth: number[][] = [];
  for (let q = 0; q < gt.data.length / gt.dim; q++) truth.push(Array.from(gt.data.subarray(q * gt.dim, (q + 1) * gt.dim)));
  return { dim: base.dim, base: base.data as Float32Array, queries: queries.data as Float32Array, truth };
}

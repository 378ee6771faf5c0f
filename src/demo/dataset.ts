/** Demo data: a deterministic Gaussian mixture, an .fvecs reader, exact ground truth. */
import { readFileSync } from 'node:fs';

import { InvalidArgumentError } from '../errors.js';

export interface Dataset {
  readonly name: string;
  readonly dim: number;
  readonly base: Float32Array;
  readonly queries: Float32Array;
}

/** mulberry32 */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n base and nq query vectors around `clusters` random centres (seeded, so every run is the same). */
export function gaussianMixture(n: number, nq: number, dim: number, clusters = 64, seed = 7): Dataset {
  const next = rng(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const centres = Float32Array.from({ length: clusters * dim }, normal);
  const spread = Float32Array.from({ length: clusters }, () => 0.25 + 0.4 * next());
  const draw = (count: number): Float32Array => {
    const out = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
      const c = Math.floor(next() * clusters);
      for (let j = 0; j < dim; j++) out[i * dim + j] = (centres[c * dim + j] as number) + (spread[c] as number) * normal();
    }
    return out;
  };
  return { name: `gaussian mixture ${n} x ${dim}`, dim, base: draw(n), queries: draw(nq) };
}

/** Reads an .fvecs file (int32 dim, then dim float32, per vector). */
export function readFvecs(path: string): { dim: number; vectors: Float32Array } {
  const buf = readFileSync(path);
  if (buf.length < 4) throw new InvalidArgumentError(`${path}: not an .fvecs file`);
  const dim = buf.readInt32LE(0);
  const record = 4 + 4 * dim;
  if (dim < 1 || buf.length % record !== 0) throw new InvalidArgumentError(`${path}: not an .fvecs file (dim ${dim}, ${buf.length} bytes)`);
  const n = buf.length / record;
  const vectors = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    vectors.set(new Float32Array(buf.buffer.slice(buf.byteOffset + i * record + 4, buf.byteOffset + (i + 1) * record)), i * dim);
  }
  return { dim, vectors };
}

/** Exact k nearest (squared L2) of each query: the reference recall is measured against. */
export function exactNeighbours(data: Dataset, k: number): Int32Array {
  const { dim, base, queries } = data;
  const n = base.length / dim;
  const nq = queries.length / dim;
  const out = new Int32Array(nq * k);
  const best = new Float64Array(k);
  const bestId = new Int32Array(k);
  for (let q = 0; q < nq; q++) {
    best.fill(Number.POSITIVE_INFINITY);
    bestId.fill(-1);
    for (let i = 0; i < n; i++) {
      const worst = best[k - 1] as number;
      let d = 0;
      for (let j = 0; j < dim; j++) {
        const diff = (queries[q * dim + j] as number) - (base[i * dim + j] as number);
        d += diff * diff;
        if (d >= worst) break; // cannot enter the top k: skip the rest of the row
      }
      if (d >= worst) continue;
      let at = k - 1;
      while (at > 0 && (best[at - 1] as number) > d) {
        best[at] = best[at - 1] as number;
        bestId[at] = bestId[at - 1] as number;
        at--;
      }
      best[at] = d;
      bestId[at] = i;
    }
    out.set(bestId, q * k);
  }
  return out;
}

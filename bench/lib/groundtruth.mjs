/** Exact k nearest neighbours by brute force (squared L2), the reference for recall. */

/** Returns Uint32Array nq x k of base row ids, nearest first. */
export function bruteForceTopK(base, queries, dim, k) {
  const n = base.length / dim;
  const nq = queries.length / dim;
  const out = new Uint32Array(nq * k);
  const bestD = new Float64Array(k);
  const bestI = new Uint32Array(k);
  for (let q = 0; q < nq; q++) {
    const qo = q * dim;
    bestD.fill(Infinity);
    for (let i = 0; i < n; i++) {
      const bo = i * dim;
      const worst = bestD[k - 1];
      let d = 0;
      for (let j = 0; j < dim; j++) {
        const t = base[bo + j] - queries[qo + j];
        d += t * t;
        if (d >= worst) break; // cannot enter the top k: skip the rest of the row
      }
      if (d >= worst) continue;
      // Insertion into the small sorted list; ties keep the lower id first (stable).
      let p = k - 1;
      while (p > 0 && bestD[p - 1] > d) {
        bestD[p] = bestD[p - 1];
        bestI[p] = bestI[p - 1];
        p--;
      }
      bestD[p] = d;
      bestI[p] = i;
    }
    out.set(bestI, q * k);
  }
  return out;
}

/**
 * Deterministic data for bench/scenarios/tenants.mjs (and the reload and accounting scenarios): one Gaussian mixture per tenant (seeded by the
 * tenant's index), query vectors drawn from the same mixture, and the Zipf-distributed order in
 * which the clients visit the tenants. Pure functions of their arguments: every child process
 * regenerates exactly the same numbers.
 */
import { mulberry32, normals } from '../rng.mjs';

export const DIM = 128;
/** Per tenant: centres ~ N(0,1)^dim, weights ∝ 1/sqrt(rank), sigma ~ U[0.25, 0.65] (as gauss100k, fewer centres). */
export const MIXTURE = { centres: 16, sigmaMin: 0.25, sigmaMax: 0.65 };
/** Query vectors kept per tenant; plan entries pick one of them. */
export const QUERIES_PER_TENANT = 16;

const tenantSeed = (t) => (0x7e4a0000 + 7919 * (t + 1)) >>> 0;

export const tenantName = (t) => `tenant-${String(t).padStart(4, '0')}`;

/** The mixture of tenant `t`: centres, sigmas and the cumulative weights. */
function mixtureOf(t, dim) {
  const uniform = mulberry32(tenantSeed(t));
  const normal = normals(uniform);
  const { centres: c, sigmaMin, sigmaMax } = MIXTURE;
  const centres = new Float64Array(c * dim);
  for (let i = 0; i < centres.length; i++) centres[i] = normal();
  const sigmas = Float64Array.from({ length: c }, () => sigmaMin + (sigmaMax - sigmaMin) * uniform());
  const cumulative = new Float64Array(c);
  let total = 0;
  for (let r = 0; r < c; r++) cumulative[r] = total += 1 / Math.sqrt(r + 1);
  for (let r = 0; r < c; r++) cumulative[r] /= total;
  return { centres, sigmas, cumulative };
}

function draw(m, count, dim, seed) {
  const uniform = mulberry32(seed);
  const normal = normals(uniform);
  const out = new Float32Array(count * dim);
  const last = m.cumulative.length - 1;
  for (let i = 0; i < count; i++) {
    const u = uniform();
    let c = 0;
    while (c < last && m.cumulative[c] <= u) c++;
    const s = m.sigmas[c];
    for (let j = 0; j < dim; j++) out[i * dim + j] = m.centres[c * dim + j] + s * normal();
  }
  return out;
}

/** Tenant t's n base vectors (n x dim, row-major). */
export function tenantBase(t, n, dim = DIM) {
  return draw(mixtureOf(t, dim), n, dim, tenantSeed(t) ^ 0x0ba5e000);
}

/** Tenant t's query vectors: fresh draws of the same mixture (not copies of base points). */
export function tenantQueries(t, nq = QUERIES_PER_TENANT, dim = DIM) {
  return draw(mixtureOf(t, dim), nq, dim, tenantSeed(t) ^ 0x0e7e5000);
}

/** Probability of each of the T tenants under Zipf(s): tenant i has rank i + 1. */
export function zipfWeights(T, s) {
  const w = Float64Array.from({ length: T }, (_, i) => (i + 1) ** -s);
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

/**
 * The order the clients take queries in: `count` entries of (tenant, query index), tenants
 * drawn from Zipf(s) over T, from one fixed seed. Clients take entries from a shared counter, so
 * every run issues the same queries in the same order (only their interleaving in time differs).
 */
export function zipfPlan(T, s, count, seed, queriesPerTenant = QUERIES_PER_TENANT) {
  const cdf = new Float64Array(T);
  let acc = 0;
  zipfWeights(T, s).forEach((p, i) => (cdf[i] = acc += p));
  cdf[T - 1] = 1;
  const uniform = mulberry32(seed);
  const tenant = new Uint32Array(count);
  const query = new Uint32Array(count);
  for (let j = 0; j < count; j++) {
    const u = uniform();
    let lo = 0;
    let hi = T - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    tenant[j] = lo;
    query[j] = Math.floor(uniform() * queriesPerTenant);
  }
  return { tenant, query };
}

/**
 * The best hit rate any cache could get holding `k` tenants under Zipf(s) over T with
 * independent draws: the probability mass of the k most popular (a reference for LRU's rate).
 */
export function topMass(T, s, k) {
  const w = zipfWeights(T, s);
  let sum = 0;
  for (let i = 0; i < Math.min(k, T); i++) sum += w[i];
  return sum;
}

/**
 * Misses of an LRU cache of `capacity` equal-sized tenants over `measured`, after the run's
 * warm-up (every tenant touched in index order, then `warm`): what the budget's eviction order
 * (least recently used, all tenants at one priority) gives when `capacity` tenants fit.
 */
export function lruMisses(T, capacity, warm, measured) {
  const cache = new Map();
  const touch = (t) => {
    const hit = cache.delete(t);
    cache.set(t, true);
    if (cache.size > capacity) cache.delete(cache.keys().next().value);
    return hit;
  };
  for (let t = 0; t < T; t++) touch(t);
  for (const t of warm) touch(t);
  let misses = 0;
  for (const t of measured) if (!touch(t)) misses++;
  return misses;
}

/**
 * The benchmark datasets: real SIFT (siftsmall) and a generated Gaussian mixture. Generated data
 * and its brute-force ground truth take ~20 s to make at 100k, so they are cached under
 * bench/.cache/ in files whose names carry every generator parameter (change one, get new files).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bruteForceTopK } from './groundtruth.mjs';
import { mulberry32, normals } from './rng.mjs';
import { readFvecs, readIvecs } from './vecs.mjs';

/**
 * Where siftsmall is read from: the fixture the repository carries (gzip), unless SHOAL_BENCH_DATA
 * (or run.mjs --data=DIR, which sets it) names a directory holding siftsmall_*.fvecs/.ivecs, plain
 * or .gz; a relative DIR is taken from the repository root.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const siftDir = () => resolve(ROOT, process.env.SHOAL_BENCH_DATA || 'test/fixtures/siftsmall');
const CACHE_DIR = fileURLToPath(new URL('../.cache/', import.meta.url));
const K = 10;

/** Mixture parameters as in hnswlib-and-peers.md §3; only n and nq vary between variants. */
function mixture(n, nq, dim = 128) {
  return { n, nq, dim, centres: 100, sigmaMin: 0.25, sigmaMax: 0.65, seed: 42, k: K };
}

/** name -> how to get it. Each returns { name, dim, base, queries, truth (nq x k), k }. */
export const DATASETS = {
  siftsmall: () => loadSift(),
  gauss100k: () => loadMixture('gauss100k', mixture(100_000, 1_000)),
  gauss20k: () => loadMixture('gauss20k', mixture(20_000, 200)),
  /** 784-d, the width of MNIST-like and many embedding models' inputs. */
  gauss20k784: () => loadMixture('gauss20k784', mixture(20_000, 200, 784)),
  /** Smoke-test size: siftsmall's first 1,000 base vectors and 20 queries, truth by brute force. */
  sift1k: () => siftSubset(1000, 20),
};

export function loadDataset(name) {
  const load = DATASETS[name];
  if (!load) throw new Error(`unknown dataset ${name}; known: ${Object.keys(DATASETS).join(', ')}`);
  return load();
}

function loadSift() {
  const dir = siftDir();
  const base = readFvecs(join(dir, 'siftsmall_base.fvecs'));
  const queries = readFvecs(join(dir, 'siftsmall_query.fvecs'));
  const gt = readIvecs(join(dir, 'siftsmall_groundtruth.ivecs'));
  // The file holds the top 100 per query; recall@10 needs the first 10 of each row.
  const truth = new Uint32Array(queries.rows * K);
  for (let q = 0; q < queries.rows; q++) truth.set(gt.data.subarray(q * gt.dim, q * gt.dim + K), q * K);
  return { name: 'siftsmall', dim: base.dim, base: base.data, queries: queries.data, truth, k: K };
}

function siftSubset(n, nq) {
  const ds = loadSift();
  const base = ds.base.subarray(0, n * ds.dim);
  const queries = ds.queries.subarray(0, nq * ds.dim);
  return { name: `sift${n / 1000}k`, dim: ds.dim, base, queries, truth: bruteForceTopK(base, queries, ds.dim, K), k: K };
}

function loadMixture(name, p) {
  const key = `gauss-n${p.n}-q${p.nq}-d${p.dim}-c${p.centres}-s${p.sigmaMin}-${p.sigmaMax}-seed${p.seed}-k${p.k}-v1`;
  const files = ['base.f32', 'queries.f32', 'truth.u32'].map((f) => join(CACHE_DIR, `${key}.${f}`));
  if (!files.every((f) => existsSync(f))) {
    const t0 = process.hrtime.bigint();
    const { base, queries } = generateMixture(p);
    const truth = bruteForceTopK(base, queries, p.dim, p.k);
    mkdirSync(CACHE_DIR, { recursive: true });
    [base, queries, truth].forEach((arr, i) => writeAtomic(files[i], arr));
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stderr.write(`[datasets] generated ${key} with ground truth in ${s.toFixed(1)} s\n`);
  }
  const [base, queries, truth] = files.map((f, i) => view(readFileSync(f), i === 2 ? Uint32Array : Float32Array));
  if (base.length !== p.n * p.dim || queries.length !== p.nq * p.dim || truth.length !== p.nq * p.k) {
    throw new Error(`cache files for ${key} have the wrong size; delete ${CACHE_DIR}`);
  }
  return { name, dim: p.dim, base, queries, truth, k: p.k, params: p };
}

/**
 * Centres ~ N(0,1)^dim, weights ∝ 1/sqrt(rank), sigma ~ U[sigmaMin, sigmaMax], all from the
 * stream seeded `seed`, then the base points from the same stream. Queries come from a second
 * stream (seed + 1) so they are fresh draws of the same mixture, not copies of base points.
 */
export function generateMixture(p) {
  const uniform = mulberry32(p.seed);
  const normal = normals(uniform);
  const centres = new Float64Array(p.centres * p.dim);
  for (let i = 0; i < centres.length; i++) centres[i] = normal();
  const sigmas = Float64Array.from({ length: p.centres }, () => p.sigmaMin + (p.sigmaMax - p.sigmaMin) * uniform());
  const cumulative = new Float64Array(p.centres);
  let total = 0;
  for (let r = 0; r < p.centres; r++) cumulative[r] = total += 1 / Math.sqrt(r + 1);
  for (let r = 0; r < p.centres; r++) cumulative[r] /= total;

  const draw = (count, uni, nrm) => {
    const out = new Float32Array(count * p.dim);
    for (let i = 0; i < count; i++) {
      const u = uni();
      let c = 0;
      while (c < p.centres - 1 && cumulative[c] <= u) c++;
      for (let j = 0; j < p.dim; j++) out[i * p.dim + j] = centres[c * p.dim + j] + sigmas[c] * nrm();
    }
    return out;
  };
  const base = draw(p.n, uniform, normal);
  const qUniform = mulberry32(p.seed + 1);
  const queries = draw(p.nq, qUniform, normals(qUniform));
  return { base, queries };
}

function writeAtomic(path, typed) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
  renameSync(tmp, path);
}

/** A typed view of a file's bytes, copied when the Buffer is not aligned for the element type. */
function view(buf, Kind) {
  if (buf.byteOffset % Kind.BYTES_PER_ELEMENT === 0) return new Kind(buf.buffer, buf.byteOffset, buf.byteLength / Kind.BYTES_PER_ELEMENT);
  return new Kind(new Uint8Array(buf).buffer);
}

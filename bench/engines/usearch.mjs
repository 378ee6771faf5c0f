/**
 * usearch 2.25.3 contender (prebuilt linux-x64). Loaded through require: its ESM build looks for
 * its binary from process.cwd() and would pick up shoal's own build/Release. expansion_search is
 * fixed at construction, so each ef gets a fresh Index that load()s the saved file.
 * Measured at its best: `searchMany` hands every query to one search call with `threads`
 * (default: every core), usearch's own parallel batch path.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';

const usearch = createRequire(import.meta.url)('usearch');
export const name = 'usearch';
/** Threads for batch search: as many as the machine has, as shoal's pool would use. */
export const CORES = os.availableParallelism();
export const version = JSON.parse(readFileSync(new URL('../../node_modules/usearch/package.json', import.meta.url), 'utf8')).version;

const make = (dim, M, efConstruction, ef) => new usearch.Index({ dimensions: dim, metric: 'l2sq', connectivity: M, expansion_add: efConstruction, expansion_search: ef });

/** add() with threads=0 (usearch's default: all cores), as users call it. */
export function build({ dim, base, M, efConstruction, threads = 0 }) {
  const n = base.length / dim;
  const index = make(dim, M, efConstruction, 64);
  index.add(BigUint64Array.from({ length: n }, (_, i) => BigInt(i)), base, threads);
  return wrap(index, dim, M, efConstruction);
}

export function load(path, { dim, M, efConstruction, ef = 64, view = false }) {
  const index = make(dim, M, efConstruction, ef);
  if (view) index.view(path);
  else index.load(path);
  return wrap(index, dim, M, efConstruction);
}

function wrap(index, dim, M, efConstruction) {
  return {
    index,
    save: (path) => index.save(path),
    /** One query per call, threads=1. */
    searchOne(q, k) {
      return index.search(q, k, 1).keys;
    },
    /** Many queries (flat nq x dim) in one synchronous call, spread over `threads` threads. */
    searchMany(qs, k, threads = CORES) {
      return index.search(qs, k, threads);
    },
    withEf: (path, ef) => load(path, { dim, M, efConstruction, ef }),
  };
}

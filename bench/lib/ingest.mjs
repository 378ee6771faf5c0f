/** Adding a dataset to a shoal collection the way every bench does. */
import { loadDataset } from './datasets.mjs';

const BATCH = 1000;

/**
 * Adds `base` (n x dim) to `col` under ids "0".."n-1", in batches of 1,000 with `inFlight`
 * batches outstanding (2 per pool thread keeps every thread busy).
 */
export async function addAll(col, base, dim, inFlight) {
  const n = base.length / dim;
  let next = 0;
  const sender = async () => {
    while (next < n) {
      const from = next;
      next = Math.min(n, from + BATCH);
      const ids = Array.from({ length: next - from }, (_, j) => String(from + j));
      await col.add(ids, base.subarray(from * dim, next * dim));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, sender));
}

/**
 * What the diagnostics start from: dataset `name` loaded, a database with `threads` pool
 * threads (shoal's `Shoal` class, passed in so callers choose its build), and collection 'c'
 * of `shards` shards holding the whole base set.
 */
export async function datasetCollection(Shoal, name, threads, shards) {
  const ds = loadDataset(name);
  const { dim } = ds;
  const db = await Shoal.open({ threads });
  const col = await db.createCollection('c', { dim, shards });
  await addAll(col, ds.base, dim, 2 * threads);
  return { ds, dim, nq: ds.queries.length / dim, db, col };
}

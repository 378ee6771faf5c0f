/** shoal contender: the public Collection API (ephemeral database, 1 shard, worker pool of `threads`). */
import { Shoal, native } from '../../dist/index.js';
import { addAll } from '../lib/ingest.mjs';

export const name = (threads) => `shoal t${threads}`;

/** Builds one collection holding base (n x dim), ids "0".."n-1". */
export async function build({ dim, base, M, efConstruction, threads, path }) {
  const db = await Shoal.open({ threads, warmStart: false, ...(path ? { path, durability: 'unlogged' } : {}) });
  const col = await db.createCollection('c', { dim, space: 'l2', shards: 1, M, efConstruction });
  await addAll(col, base, dim, 2 * threads);
  await db.idle();
  return {
    db,
    col,
    /** All queries in one col.query call (shoal spreads them over its threads); nq x k labels. */
    async searchAll(queries, k, ef) {
      const res = await col.query(queries, { k, ef });
      const out = new Uint32Array(res.length * k);
      res.forEach((r, q) => r.ids.forEach((id, j) => (out[q * k + j] = Number(id))));
      return out;
    },
    searchOne: (q, k, ef) => col.query(q, { k, ef }),
    bytes() {
      const s = db.stats();
      return { accounted: s.usedBytes, native: s.nativeBytes + s.idTableBytes };
    },
    close: () => db.close(),
  };
}

export { native, Shoal };

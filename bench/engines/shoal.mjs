/** shoal contender: the public Collection API (ephemeral database, 1 shard, worker pool of `threads`). */
import { Shoal, native } from '../../dist/index.js';

export const name = (threads) => `shoal t${threads}`;

/** Builds one collection holding base (n x dim), ids "0".."n-1". */
export async function build({ dim, base, M, efConstruction, threads, path }) {
  const db = await Shoal.open({ threads, warmStart: false, ...(path ? { path, durability: 'unlogged' } : {}) });
  const col = await db.createCollection('c', { dim, space: 'l2', shards: 1, M, efConstruction });
  const n = base.length / dim;
  const BATCH = 1000;
  const inFlight = new Set();
  for (let i = 0; i < n; i += BATCH) {
    const end = Math.min(n, i + BATCH);
    const ids = Array.from({ length: end - i }, (_, j) => String(i + j));
    const p = col.add(ids, base.subarray(i * dim, end * dim)).then(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 2 * threads) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
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

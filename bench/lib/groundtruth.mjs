/** The exact k nearest neighbours recall is measured against: the demo's brute force (squared L2). */
import { exactNeighbours } from '../../dist/demo/dataset.js';

/** Returns Uint32Array nq x k of base row ids, nearest first. */
export function bruteForceTopK(base, queries, dim, k) {
  return new Uint32Array(exactNeighbours({ dim, base, queries }, k).buffer);
}

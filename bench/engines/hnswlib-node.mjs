/** hnswlib-node 3.0.0 contender: addPoint / searchKnn loops on the main thread (its API takes number[]). */
import hnsw from 'hnswlib-node';

const { HierarchicalNSW } = hnsw;
export const name = 'hnswlib-node';
export { HierarchicalNSW };

export function build({ dim, base, M, efConstruction }) {
  const n = base.length / dim;
  const index = new HierarchicalNSW('l2', dim);
  index.initIndex(n, M, efConstruction, 100);
  for (let i = 0; i < n; i++) index.addPoint(Array.from(base.subarray(i * dim, (i + 1) * dim)), i);
  return wrap(index, dim);
}

export function load(path, dim) {
  const index = new HierarchicalNSW('l2', dim);
  index.readIndexSync(path);
  return wrap(index, dim);
}

function wrap(index, dim) {
  let cur = -1;
  return {
    index,
    /** Queries as number[] (converted once, outside any timing). */
    prepare: (queries) => Array.from({ length: queries.length / dim }, (_, i) => Array.from(queries.subarray(i * dim, (i + 1) * dim))),
    setEf(ef) {
      if (ef !== cur) index.setEf((cur = ef));
    },
    searchOne(q, k) {
      return index.searchKnn(q, k).neighbors;
    },
    save: (path) => index.writeIndexSync(path),
  };
}

/** Readers for the TEXMEX .fvecs / .ivecs formats: each row is an int32 d, then d values (LE). */
import { readFileSync } from 'node:fs';

function readVecs(path, Kind) {
  const buf = readFileSync(path);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dim = view.getInt32(0, true);
  const rowBytes = 4 + 4 * dim;
  if (buf.byteLength % rowBytes !== 0) throw new Error(`${path}: size ${buf.byteLength} is not a multiple of ${rowBytes}`);
  const rows = buf.byteLength / rowBytes;
  const out = new Kind(rows * dim);
  for (let r = 0; r < rows; r++) {
    const at = r * rowBytes;
    if (view.getInt32(at, true) !== dim) throw new Error(`${path}: row ${r} has a different dimension`);
    for (let j = 0; j < dim; j++) {
      out[r * dim + j] = Kind === Float32Array ? view.getFloat32(at + 4 + 4 * j, true) : view.getInt32(at + 4 + 4 * j, true);
    }
  }
  return { rows, dim, data: out };
}

export const readFvecs = (path) => readVecs(path, Float32Array);
export const readIvecs = (path) => readVecs(path, Int32Array);

/** Readers for the TEXMEX .fvecs / .ivecs formats: each row is an int32 d, then d values (LE), optionally gzipped. */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** `path` itself, or `path.gz` decompressed when only that exists (the vendored fixture). */
function readMaybeGzipped(path) {
  if (existsSync(path) || !existsSync(`${path}.gz`)) return readFileSync(path);
  return gunzipSync(readFileSync(`${path}.gz`));
}

function readVecs(path, Kind) {
  const buf = readMaybeGzipped(path);
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

/**
 * Normalises the input shapes users pass (number[][], number[], Float32Array, id lists) into the
 * flat typed arrays the native core takes, with errors that name the argument and the bad
 * value. Pure: no I/O, no addon.
 */
import { DimensionMismatchError, InvalidArgumentError, InvalidLabelError, InvalidVectorError } from './errors.js';

/** Vectors as users write them: a flat Float32Array (n x dim), rows of numbers, or one row. */
export type VectorsInput = Float32Array | readonly (readonly number[] | Float32Array)[] | readonly number[];

/**
 * Returns n x dim floats in one Float32Array (the input itself when it already is one).
 * `rows`, when given, is the number of vectors expected.
 */
export function toFloatRows(input: VectorsInput, dim: number, name: string, rows?: number): Float32Array {
  let flat: Float32Array;
  if (input instanceof Float32Array) {
    if (input.length % dim !== 0 || (rows !== undefined && input.length !== rows * dim)) {
      const want = rows !== undefined ? `${rows} x ${dim} = ${rows * dim}` : `a multiple of dim ${dim}`;
      throw new DimensionMismatchError(`${name}: length must be ${want}, got ${input.length}`, {
        expected: dim,
        length: input.length,
      });
    }
    flat = input;
  } else if (!Array.isArray(input)) {
    throw new InvalidArgumentError(`${name}: must be a Float32Array or an array of vectors, got ${describe(input)}`);
  } else if (input.length > 0 && typeof input[0] === 'number') {
    // One vector as a plain array.
    const row = input as readonly number[];
    checkNumbers(row, name, 0);
    if (row.length !== dim) {
      throw new DimensionMismatchError(`${name}: vector has ${row.length} dimensions, expected ${dim}`, {
        expected: dim,
        actual: row.length,
      });
    }
    flat = Float32Array.from(row);
  } else {
    const list = input as readonly (readonly number[] | Float32Array)[];
    flat = new Float32Array(list.length * dim);
    list.forEach((row, i) => {
      if (!(row instanceof Float32Array) && !Array.isArray(row)) {
        throw new InvalidArgumentError(`${name}[${i}]: must be an array of numbers, got ${describe(row)}`);
      }
      if (Array.isArray(row)) checkNumbers(row, name, i);
      if (row.length !== dim) {
        throw new DimensionMismatchError(`${name}[${i}]: vector has ${row.length} dimensions, expected ${dim}`, {
          row: i,
          expected: dim,
          actual: row.length,
        });
      }
      flat.set(row, i * dim);
    });
  }
  if (rows !== undefined && flat.length !== rows * dim) {
    throw new DimensionMismatchError(`${name}: expected ${rows} vectors of ${dim}, got ${flat.length / dim}`, {
      expectedRows: rows,
      actualRows: flat.length / dim,
    });
  }
  checkFinite(flat, dim, name);
  return flat;
}

/** Plain arrays must hold numbers: Float32Array would turn null into 0 and true into 1. */
function checkNumbers(row: readonly unknown[], name: string, rowIndex: number): void {
  for (let j = 0; j < row.length; j++) {
    if (typeof row[j] !== 'number') {
      throw new InvalidVectorError(`${name}[${rowIndex}][${j}]: must be a finite number, got ${describe(row[j])}`, { row: rowIndex, column: j });
    }
  }
}

/** Throws InvalidVectorError naming the first NaN or infinite component. */
export function checkFinite(flat: Float32Array, dim: number, name: string): void {
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i] as number;
    if (!Number.isFinite(v)) {
      const row = Math.floor(i / dim);
      throw new InvalidVectorError(`${name}[${row}][${i % dim}]: must be a finite number, got ${v}`, {
        row,
        column: i % dim,
      });
    }
  }
}

/** Integer labels in [0, max]. (Repeats are refused by the native core, which sees the whole batch.) */
export function toLabels(input: Uint32Array | readonly number[], name: string, max = 0xfffffffe): Uint32Array {
  if (input instanceof Uint32Array) {
    for (let i = 0; i < input.length; i++) {
      if ((input[i] as number) > max) throw new InvalidLabelError(`${name}[${i}]: must be at most ${max}, got ${input[i]}`);
    }
    return input;
  }
  if (!Array.isArray(input)) {
    throw new InvalidLabelError(`${name}: must be a Uint32Array or an array of integers, got ${describe(input)}`);
  }
  const out = new Uint32Array(input.length);
  input.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
      throw new InvalidLabelError(`${name}[${i}]: must be an integer from 0 to ${max}, got ${describe(v)}`, {
        row: i,
      });
    }
    out[i] = v;
  });
  return out;
}

/** An integer option in [min, max]. */
export function checkInteger(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name}: must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/**
 * Cosine space stores unit vectors: the native core scales each row by 1/|v| in float32. A row
 * of zeros has no direction, and one so small that 1/|v| overflows float32 (denormals such as
 * [1e-45, 0, 0]) would be stored as infinities and NaN; both are refused.
 */
export function checkNormalizable(flat: Float32Array, dim: number, name: string): void {
  for (let row = 0; row < flat.length / dim; row++) {
    let sum = 0;
    for (let j = row * dim; j < (row + 1) * dim; j++) sum += (flat[j] as number) * (flat[j] as number);
    if (sum === 0) throw new InvalidVectorError(`${name}[${row}]: cosine space needs a nonzero vector, got all zeros`, { row });
    if (!Number.isFinite(Math.fround(1 / Math.sqrt(sum)))) {
      throw new InvalidVectorError(
        `${name}[${row}]: cosine space needs a vector whose length (${Math.sqrt(sum)}) can be normalised in float32; expected a length of at least ${minNormalizableLength()}`,
        { row },
      );
    }
  }
}

function minNormalizableLength(): number {
  return 1 / 3.4028234663852886e38;
}

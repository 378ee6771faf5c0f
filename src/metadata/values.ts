/**
 * Metadata values: what a record may carry beside its vector, and the checks that keep a bad
 * value from changing anything. Pure: no I/O, no state.
 *
 * A record's metadata is a plain object whose values are strings, finite numbers, booleans or
 * arrays of strings. Keys are non-empty and do not start with '$' (that prefix is the filter
 * language's). Strings, keys included, are well-formed Unicode of at most MAX_META_STRING_BYTES
 * UTF-8 bytes, because each distinct string is stored once per field in a dictionary (see
 * table.ts) whose entries are that long at most.
 */
import { InvalidMetadataError } from '../errors.js';
import { MAX_ID_BYTES } from '../ids/id-table.js';
import { describe } from '../vectors.js';

export type MetadataValue = string | number | boolean | readonly string[];
export type Metadata = Readonly<Record<string, MetadataValue>>;

/** Longest string value or key, in UTF-8 bytes. */
export const MAX_META_STRING_BYTES = MAX_ID_BYTES;
/** Most keys one record may carry. */
export const MAX_META_KEYS = 256;
/** Most strings one array value may hold. */
export const MAX_META_ARRAY = 4096;

const encoder = new TextEncoder();

/** Whether `s` can be stored exactly: well-formed and short enough. */
export function storableString(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed() && (s.length <= MAX_META_STRING_BYTES / 3 || encoder.encode(s).length <= MAX_META_STRING_BYTES);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Checks one record's metadata and returns a frozen-shape copy (so a caller mutating its object
 * later changes nothing stored); -0 becomes 0. `null` or `undefined` is no metadata.
 * @throws {InvalidMetadataError} naming the id, the row and the key.
 */
export function checkMetadata(value: unknown, id: string, row: number): Metadata {
  const where = `metadatas[${row}] (id ${JSON.stringify(id)})`;
  const fail = (key: string | null, what: string): never => {
    throw new InvalidMetadataError(`${where}${key === null ? '' : `.${key}`}: ${what}`, key === null ? { row, id } : { row, id, key });
  };
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) return fail(null, `must be a plain object of strings, finite numbers, booleans or arrays of strings, got ${describe(value)}`);
  const keys = Object.keys(value);
  if (keys.length > MAX_META_KEYS) fail(null, `has ${keys.length} keys; at most ${MAX_META_KEYS} are allowed`);
  const out: Record<string, MetadataValue> = {};
  for (const key of keys) {
    if (key.length === 0 || key.startsWith('$')) fail(key, `keys must be non-empty and not start with '$', got ${JSON.stringify(key)}`);
    if (!storableString(key)) fail(key, `keys must be well-formed Unicode of at most ${MAX_META_STRING_BYTES} UTF-8 bytes`);
    const v = value[key];
    if (typeof v === 'string') {
      if (!storableString(v)) fail(key, `strings must be well-formed Unicode of at most ${MAX_META_STRING_BYTES} UTF-8 bytes, got ${describe(v)}`);
      out[key] = v;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) fail(key, `numbers must be finite, got ${String(v)}`);
      out[key] = v === 0 ? 0 : v;
    } else if (typeof v === 'boolean') {
      out[key] = v;
    } else if (Array.isArray(v)) {
      if (v.length > MAX_META_ARRAY) fail(key, `arrays may hold at most ${MAX_META_ARRAY} strings, got ${v.length}`);
      v.forEach((s: unknown, i) => {
        if (typeof s !== 'string') fail(key, `arrays must hold strings only; element ${i} is ${describe(s)}`);
        else if (!storableString(s)) fail(key, `element ${i}: strings must be well-formed Unicode of at most ${MAX_META_STRING_BYTES} UTF-8 bytes`);
      });
      out[key] = [...(v as string[])];
    } else {
      fail(key, `must be a string, a finite number, a boolean or an array of strings, got ${describe(v)}`);
    }
  }
  return out;
}

/**
 * Checks a batch's metadatas against its ids: one entry per id, or undefined for none.
 * @throws {InvalidMetadataError} for the first bad entry; nothing of the batch is applied.
 */
export function checkMetadatas(metadatas: unknown, ids: readonly string[]): Metadata[] | null {
  if (metadatas === undefined) return null;
  if (!Array.isArray(metadatas) || metadatas.length !== ids.length) {
    throw new InvalidMetadataError(`metadatas: must be an array of ${ids.length} objects (one per id), got ${describe(metadatas)}`, { expected: ids.length });
  }
  return ids.map((id, row) => checkMetadata(metadatas[row], id, row));
}

/** Two metadatas hold the same keys and values (array order counts). */
export function sameMetadata(a: Metadata, b: Metadata): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    const x = a[k];
    const y = b[k];
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length || x.some((s, i) => s !== y[i])) return false;
    } else if (x !== y) return false;
  }
  return true;
}

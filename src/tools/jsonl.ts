/**
 * The collection export format (docs/formats.md): JSON Lines, one header record with the
 * collection's settings, then one record per vector:
 *
 *   {"format":"shoal-collection","version":1,"name":"docs","dim":3,"space":"cosine",...}
 *   {"id":"a","vector":[0.1,-2.5,3]}
 *   {"id":"b","vector":[1,0,0],"metadata":{"lang":"en"}}
 *
 * Both directions stream: the writer takes pages and honours the stream's backpressure, the
 * reader yields batches of a bounded size, so memory is one page or batch whatever the size of
 * the collection. Floats are written as the shortest decimal that reads back as the same
 * float32 (Math.fround of the parsed number), so a round trip is exact bit for bit.
 *
 * No I/O of its own beyond the streams it is given, no database: the API (Collection.export,
 * Shoal.importCollection) and the shoal command drive it.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

import { InvalidArgumentError, IoError, ShoalError } from '../errors.js';
import { describe } from '../vectors.js';

export const EXPORT_FORMAT = 'shoal-collection';
export const EXPORT_VERSION = 1;

/** The first record of an export: what is needed to create the collection again. */
export interface ExportHeader {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: number;
  readonly name: string;
  readonly dim: number;
  readonly space: 'l2' | 'ip' | 'cosine';
  readonly M: number;
  readonly efConstruction: number;
  readonly efSearch: number;
  readonly shards: number;
  /** Live records when the export began (writes during it may change what follows). */
  readonly count: number;
  readonly exportedAtMs: number;
}

/** A page of records as the writer takes them (vectors flat: rows x dim). */
export interface ExportPage {
  readonly ids: readonly string[];
  readonly vectors: Float32Array;
  readonly metadatas?: readonly (Readonly<Record<string, unknown>> | null | undefined)[];
}

/** A batch of records as the reader yields them. */
export interface ImportBatch {
  readonly ids: string[];
  readonly vectors: Float32Array;
  /** One per record: its metadata, or undefined when the record has none. */
  readonly metadatas: (Record<string, unknown> | undefined)[];
  /** The line number (1-based) of the batch's first record. */
  readonly firstLine: number;
}

/**
 * The shortest decimal that reads back (through Math.fround) as exactly the float32 `x`: nine
 * significant digits always suffice, and most float32 values need eight or nine. So eight is
 * tried first, then fewer while they still read back (trailing zeros cut), else seven and nine.
 * toPrecision and one check per try: 1.3 to 1.9 µs a float on a busy 2-core machine, where
 * String(Number(...)) per try, from six digits up, cost 3.4 µs.
 */
export function formatFloat32(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const fits = (digits: number): string | null => {
    const s = x.toPrecision(digits);
    return Math.fround(Number(s)) === x ? s : null;
  };
  let best = fits(8);
  if (best === null) return trimZeros(fits(7) ?? x.toPrecision(9));
  for (let digits = 7; digits >= 1; digits--) {
    const shorter = fits(digits);
    if (shorter === null) break;
    best = shorter;
  }
  return trimZeros(best);
}

/** "0.500000" -> "0.5", "1.20000e+21" -> "1.2e+21", "100.000" -> "100". */
function trimZeros(s: string): string {
  const dot = s.indexOf('.');
  if (dot < 0) return s;
  const e = s.indexOf('e');
  let end = e < 0 ? s.length : e;
  while (s.charCodeAt(end - 1) === 48) end--; // '0'
  if (end - 1 === dot) end--;
  return e < 0 ? s.slice(0, end) : s.slice(0, end) + s.slice(e);
}

function vectorJson(vectors: Float32Array, from: number, dim: number): string {
  let out = '[';
  for (let i = 0; i < dim; i++) out += (i === 0 ? '' : ',') + formatFloat32(vectors[from + i] as number);
  return `${out}]`;
}

/** One record's line, without the newline. */
export function encodeRecordLine(id: string, vector: Float32Array, metadata?: Readonly<Record<string, unknown>> | null): string {
  const meta = metadata === undefined || metadata === null ? '' : `,"metadata":${JSON.stringify(metadata)}`;
  return `{"id":${JSON.stringify(id)},"vector":${vectorJson(vector, 0, vector.length)}${meta}}`;
}

/**
 * Writes the header and every page to `out`, waiting for 'drain' whenever the stream asks, and
 * returns the records written. Does not end `out`.
 */
export async function writeExport(header: ExportHeader, pages: AsyncIterable<ExportPage>, out: Writable): Promise<{ records: number }> {
  // Each wait removes both of its listeners when either fires: one 'error' listener left per
  // wait would pile up over a long export.
  const write = (text: string): Promise<void> =>
    out.write(text)
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const onDrain = (): void => {
            out.off('error', onError);
            resolve();
          };
          const onError = (err: unknown): void => {
            out.off('drain', onDrain);
            reject(err);
          };
          out.once('drain', onDrain);
          out.once('error', onError);
        });
  await write(`${JSON.stringify(header)}\n`);
  let records = 0;
  for await (const page of pages) {
    const dim = header.dim;
    let text = '';
    page.ids.forEach((id, i) => {
      const meta = page.metadatas?.[i];
      text += `${encodeRecordLine(id, page.vectors.subarray(i * dim, (i + 1) * dim), meta)}\n`;
    });
    records += page.ids.length;
    await write(text);
  }
  return { records };
}

const SPACES = new Set(['l2', 'ip', 'cosine']);

function lineError(line: number, message: string): InvalidArgumentError {
  return new InvalidArgumentError(`line ${line}: ${message}`, { line });
}

/** Checks the first line: a header this build reads. @throws {InvalidArgumentError} */
export function parseHeader(text: string | undefined): ExportHeader {
  if (text === undefined) throw lineError(1, 'the input is empty; expected a shoal-collection header record');
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw lineError(1, 'not JSON; expected a shoal-collection header record');
  }
  if (typeof h !== 'object' || h === null || h['format'] !== EXPORT_FORMAT) {
    throw lineError(1, `expected a header record with "format": "${EXPORT_FORMAT}", got ${describe(h?.['format'])}`);
  }
  if (h['version'] !== EXPORT_VERSION) throw lineError(1, `format version ${describe(h['version'])} is not supported (this build reads ${EXPORT_VERSION})`);
  for (const key of ['dim', 'M', 'efConstruction', 'efSearch', 'shards']) {
    if (!Number.isInteger(h[key]) || (h[key] as number) < 1) throw lineError(1, `header ${key}: must be a positive integer, got ${describe(h[key])}`);
  }
  if (!SPACES.has(h['space'] as string)) throw lineError(1, `header space: must be 'l2', 'ip' or 'cosine', got ${describe(h['space'])}`);
  return h as unknown as ExportHeader;
}

/**
 * Reads an export: the header, then batches of up to `batchSize` records, each checked (id a
 * non-empty string, vector `dim` finite numbers, metadata an object when present). Memory is
 * one batch. @throws {InvalidArgumentError} naming the line and what was wrong.
 */
export async function readExport(input: Readable, batchSize: number): Promise<{ header: ExportHeader; batches: AsyncGenerator<ImportBatch> }> {
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const first = await lines.next();
  const header = parseHeader(first.done === true ? undefined : first.value);
  const dim = header.dim;
  async function* batches(): AsyncGenerator<ImportBatch> {
    let line = 1;
    let batch: { ids: string[]; vectors: Float32Array; metadatas: (Record<string, unknown> | undefined)[]; firstLine: number } | null = null;
    try {
      for (let next = await lines.next(); next.done !== true; next = await lines.next()) {
        line++;
        const text = next.value;
        if (text.trim() === '') continue;
        batch ??= { ids: [], vectors: new Float32Array(batchSize * dim), metadatas: [], firstLine: line };
        parseRecord(text, line, dim, batch);
        if (batch.ids.length === batchSize) {
          yield batch;
          batch = null;
        }
      }
      if (batch !== null) yield { ...batch, vectors: batch.vectors.subarray(0, batch.ids.length * dim) };
    } finally {
      await lines.return?.();
    }
  }
  return { header, batches: batches() };
}

function parseRecord(text: string, line: number, dim: number, batch: { ids: string[]; vectors: Float32Array; metadatas: (Record<string, unknown> | undefined)[] }): void {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw lineError(line, 'not JSON; expected {"id": ..., "vector": [...]}');
  }
  if (typeof r !== 'object' || r === null || Array.isArray(r)) throw lineError(line, `expected a record object, got ${describe(r)}`);
  const id = r['id'];
  if (typeof id !== 'string' || id.length === 0) throw lineError(line, `id: must be a non-empty string, got ${describe(id)}`);
  const vector = r['vector'];
  if (!Array.isArray(vector) || vector.length !== dim) {
    throw lineError(line, `vector of ${JSON.stringify(id)}: must be an array of ${dim} numbers, got ${Array.isArray(vector) ? `${vector.length} entries` : describe(vector)}`);
  }
  const row = batch.ids.length;
  for (let i = 0; i < dim; i++) {
    const x = vector[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw lineError(line, `vector of ${JSON.stringify(id)}[${i}]: must be a finite number, got ${describe(x)}`);
    batch.vectors[row * dim + i] = x;
  }
  const metadata = r['metadata'];
  if (metadata !== undefined && metadata !== null && (typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw lineError(line, `metadata of ${JSON.stringify(id)}: must be an object, got ${describe(metadata)}`);
  }
  batch.ids.push(id);
  batch.metadatas.push(metadata === null || metadata === undefined ? undefined : (metadata as Record<string, unknown>));
}

/**
 * Runs `write` on `dest`: a caller's stream (left open), or a file path (created or replaced;
 * ended and flushed before this resolves, removed when `write` fails).
 */
export async function withOutput<T>(dest: string | Writable, write: (out: Writable) => Promise<T>): Promise<T> {
  if (typeof dest !== 'string') {
    if (typeof (dest as Writable | null)?.write !== 'function') throw new InvalidArgumentError(`dest: must be a file path or a Writable stream, got ${describe(dest)}`);
    return write(dest);
  }
  const out = createWriteStream(dest);
  try {
    await once(out, 'open');
    const result = await write(out);
    out.end();
    await finished(out);
    return result;
  } catch (err) {
    out.destroy();
    rmSync(dest, { force: true });
    // Node's own errors (ENOSPC, EACCES, ...) become IoError naming the file; ours pass through.
    throw err instanceof ShoalError || !(err instanceof Error) ? err : ioError(dest, err);
  }
}

/** Runs `read` on `source`: a caller's stream, or a file path (opened here, closed after). */
export async function withInput<T>(source: string | Readable, read: (input: Readable) => Promise<T>): Promise<T> {
  if (typeof source !== 'string') {
    if (typeof (source as Readable | null)?.on !== 'function') throw new InvalidArgumentError(`source: must be a file path or a Readable stream, got ${describe(source)}`);
    return read(source);
  }
  const input = createReadStream(source);
  try {
    await once(input, 'open');
  } catch (err) {
    throw ioError(source, err as Error);
  }
  try {
    return await read(input);
  } finally {
    input.destroy();
  }
}

function ioError(path: string, cause: Error): IoError {
  return new IoError(`${path}: ${cause.message}`, { path }, { cause });
}

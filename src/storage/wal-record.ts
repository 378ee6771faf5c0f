/**
 * Write-ahead log records: one per acknowledged write call (a whole batch), so a batch is
 * replayed entirely or not at all. Pure: bytes in, records out.
 *
 *   magic u32 'SWAL' | length u32 (whole record) | crc32 u32 (of everything after it)
 *   lsn u64 | op u8 (1 add, 2 upsert, 3 delete) | collection: u16 length + UTF-8
 *   count u32 | dim u32 (0 for delete) | ids: count x (u16 length + UTF-8) | count x dim f32
 *   [metadata: u32 length + UTF-8 JSON array, one object per id] when the op byte has bit 0x80
 *
 * Op 4 (meta) replaces the metadata of its ids (dim 0, no vectors, metadata always). JSON holds
 * every metadata value exactly (strings, finite numbers, booleans, arrays of strings), and an
 * older log without the 0x80 bit reads as before.
 */
import { crc32 } from 'node:zlib';

import type { Metadata } from '../metadata/values.js';

export const RECORD_MAGIC = 0x4c415753; // 'SWAL' little-endian
const MAGIC_BYTES = Buffer.from([0x53, 0x57, 0x41, 0x4c]);
const HEADER = 12;

export type WalOp = 'add' | 'upsert' | 'delete' | 'meta';
const OP_CODE: Record<WalOp, number> = { add: 1, upsert: 2, delete: 3, meta: 4 };
const OP_NAME: Record<number, WalOp> = { 1: 'add', 2: 'upsert', 3: 'delete', 4: 'meta' };
const HAS_METADATA = 0x80;

export interface WalRecord {
  readonly lsn: number;
  readonly op: WalOp;
  readonly collection: string;
  readonly ids: readonly string[];
  /** count x dim floats; empty for delete and meta. */
  readonly vectors: Float32Array;
  readonly dim: number;
  /** One per id, when the write set metadata (always for meta); absent: the write left it alone. */
  readonly metadatas?: readonly Metadata[] | null;
}

export function encodeRecord(r: WalRecord): Buffer {
  return Buffer.concat(encodeRecordParts(r));
}

/**
 * The record as two pieces to write one after the other: its head (through the ids), and its
 * vectors as a view of `r.vectors`' own memory, not a copy (a 100,000 x 128 batch is 51 MB
 * the log would otherwise copy). The CRC covers both. The caller keeps `r.vectors` unchanged
 * until the pieces are written.
 */
export function encodeRecordParts(r: WalRecord): Buffer[] {
  const name = Buffer.from(r.collection, 'utf8');
  const ids = r.ids.map((id) => Buffer.from(id, 'utf8'));
  const meta = r.metadatas === undefined || r.metadatas === null ? null : Buffer.from(JSON.stringify(r.metadatas), 'utf8');
  const headLength = HEADER + 8 + 1 + 2 + name.length + 8 + ids.reduce((n, b) => n + 2 + b.length, 0);
  const tailLength = meta === null ? 0 : 4 + meta.length;
  const length = headLength + r.vectors.byteLength + tailLength;
  const out = Buffer.alloc(headLength);
  out.writeUInt32LE(RECORD_MAGIC, 0);
  out.writeUInt32LE(length, 4);
  let at = HEADER;
  out.writeBigUInt64LE(BigInt(r.lsn), at);
  at += 8;
  out.writeUInt8(OP_CODE[r.op] | (meta === null ? 0 : HAS_METADATA), at++);
  out.writeUInt16LE(name.length, at);
  name.copy(out, at + 2);
  at += 2 + name.length;
  out.writeUInt32LE(r.ids.length, at);
  out.writeUInt32LE(r.op === 'delete' || r.op === 'meta' ? 0 : r.dim, at + 4);
  at += 8;
  for (const b of ids) {
    out.writeUInt16LE(b.length, at);
    b.copy(out, at + 2);
    at += 2 + b.length;
  }
  const vectors = Buffer.from(r.vectors.buffer, r.vectors.byteOffset, r.vectors.byteLength);
  const tail = Buffer.alloc(tailLength);
  if (meta !== null) {
    tail.writeUInt32LE(meta.length, 0);
    meta.copy(tail, 4);
  }
  // Not crc32(empty, crc): over a zero-length view of an empty ArrayBuffer it returns 0.
  let crc = crc32(out.subarray(HEADER));
  if (vectors.length > 0) crc = crc32(vectors, crc);
  if (tail.length > 0) crc = crc32(tail, crc);
  out.writeUInt32LE(crc, 8);
  return [out, vectors, tail];
}

export type Decoded =
  | { readonly kind: 'record'; readonly record: WalRecord; readonly next: number }
  | { readonly kind: 'end' }
  /** Bytes from `offset` on are not a whole valid record: a torn or damaged tail. */
  | { readonly kind: 'bad'; readonly offset: number; readonly why: string };

/** Decodes the record at `offset`. */
export function decodeRecord(buf: Buffer, offset: number): Decoded {
  if (offset === buf.length) return { kind: 'end' };
  const bad = (why: string): Decoded => ({ kind: 'bad', offset, why });
  if (offset + HEADER > buf.length) return bad('a record header is cut short');
  if (buf.readUInt32LE(offset) !== RECORD_MAGIC) return bad('no record magic');
  const length = buf.readUInt32LE(offset + 4);
  if (length < HEADER + 23 || offset + length > buf.length) return bad(`a record of ${length} bytes is cut short`);
  const body = buf.subarray(offset + HEADER, offset + length);
  if (crc32(body) !== buf.readUInt32LE(offset + 8)) return bad('record checksum mismatch');
  try {
    let at = 0;
    const lsn = Number(body.readBigUInt64LE(at));
    at += 8;
    const opByte = body.readUInt8(at++);
    const op = OP_NAME[opByte & ~HAS_METADATA];
    if (op === undefined) return bad('unknown operation');
    const hasMeta = (opByte & HAS_METADATA) !== 0;
    const nameLength = body.readUInt16LE(at);
    const collection = body.toString('utf8', at + 2, at + 2 + nameLength);
    at += 2 + nameLength;
    const count = body.readUInt32LE(at);
    const dim = body.readUInt32LE(at + 4);
    at += 8;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const n = body.readUInt16LE(at);
      ids.push(body.toString('utf8', at + 2, at + 2 + n));
      at += 2 + n;
    }
    const floats = count * dim;
    const metaAt = at + floats * 4;
    const metaLength = hasMeta ? body.readUInt32LE(metaAt) : 0;
    if ((hasMeta ? metaAt + 4 + metaLength : metaAt) !== body.length) return bad('record fields do not fill it');
    const vectors = new Float32Array(floats);
    Buffer.from(vectors.buffer).set(body.subarray(at, at + floats * 4));
    if (!hasMeta) return { kind: 'record', record: { lsn, op, collection, ids, vectors, dim }, next: offset + length };
    const metadatas = JSON.parse(body.toString('utf8', metaAt + 4, metaAt + 4 + metaLength)) as Metadata[];
    if (!Array.isArray(metadatas) || metadatas.length !== count) return bad('record metadata does not match its ids');
    return { kind: 'record', record: { lsn, op, collection, ids, vectors, dim, metadatas }, next: offset + length };
  } catch {
    return bad('record fields run past its end');
  }
}

export type Scanned =
  | { readonly kind: 'record'; readonly record: WalRecord; readonly offset: number; readonly end: number }
  /** Bytes `offset` to `end` hold no valid record; `end` is the file's length when nothing valid follows. */
  | { readonly kind: 'damaged'; readonly offset: number; readonly end: number; readonly why: string };

/**
 * Walks a log file's records in order, yielding damaged stretches between them. After damage it
 * resumes at the next offset that holds a whole record passing its checksum, so one damaged
 * record costs only itself, not everything written after it. A record must carry an LSN above
 * `afterLsn` and above the record before it: one that does not would be applied twice or out
 * of order, so it counts as damage too.
 */
export function* scanRecords(buf: Buffer, afterLsn: number): Generator<Scanned> {
  let last = afterLsn;
  let at = 0;
  while (at < buf.length) {
    const d = decodeRecord(buf, at);
    if (d.kind === 'record' && d.record.lsn > last) {
      yield { kind: 'record', record: d.record, offset: at, end: d.next };
      last = d.record.lsn;
      at = d.next;
      continue;
    }
    const why = d.kind === 'record' ? `LSN ${d.record.lsn} does not follow LSN ${last}` : d.kind === 'bad' ? d.why : 'no record';
    const resume = nextValidRecord(buf, at + 1, last);
    yield { kind: 'damaged', offset: at, end: resume, why };
    at = resume;
  }
}

/** The first offset from `from` on holding a whole valid record with an LSN above `after`, or the end. */
function nextValidRecord(buf: Buffer, from: number, after: number): number {
  // A false resumption needs the magic, a plausible length and a matching CRC-32 by chance.
  for (let at = buf.indexOf(MAGIC_BYTES, from); at !== -1; at = buf.indexOf(MAGIC_BYTES, at + 1)) {
    const d = decodeRecord(buf, at);
    if (d.kind === 'record' && d.record.lsn > after) return at;
  }
  return buf.length;
}

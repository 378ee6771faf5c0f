/**
 * Write-ahead log records: one per acknowledged write call (a whole batch), so a batch is
 * replayed entirely or not at all. Pure: bytes in, records out.
 *
 *   magic u32 'SWAL' | length u32 (whole record) | crc32 u32 (of everything after it)
 *   lsn u64 | op u8 (1 add, 2 upsert, 3 delete) | collection: u16 length + UTF-8
 *   count u32 | dim u32 (0 for delete) | ids: count x (u16 length + UTF-8) | count x dim f32
 */
import { crc32 } from 'node:zlib';

export const RECORD_MAGIC = 0x4c415753; // 'SWAL' little-endian
const MAGIC_BYTES = Buffer.from([0x53, 0x57, 0x41, 0x4c]);
const HEADER = 12;

export type WalOp = 'add' | 'upsert' | 'delete';
const OP_CODE: Record<WalOp, number> = { add: 1, upsert: 2, delete: 3 };
const OP_NAME: Record<number, WalOp> = { 1: 'add', 2: 'upsert', 3: 'delete' };

export interface WalRecord {
  readonly lsn: number;
  readonly op: WalOp;
  readonly collection: string;
  readonly ids: readonly string[];
  /** count x dim floats; empty for delete. */
  readonly vectors: Float32Array;
  readonly dim: number;
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
export function encodeRecordParts(r: WalRecord): [Buffer, Buffer] {
  const name = Buffer.from(r.collection, 'utf8');
  const ids = r.ids.map((id) => Buffer.from(id, 'utf8'));
  const headLength = HEADER + 8 + 1 + 2 + name.length + 8 + ids.reduce((n, b) => n + 2 + b.length, 0);
  const length = headLength + r.vectors.byteLength;
  const out = Buffer.alloc(headLength);
  out.writeUInt32LE(RECORD_MAGIC, 0);
  out.writeUInt32LE(length, 4);
  let at = HEADER;
  out.writeBigUInt64LE(BigInt(r.lsn), at);
  at += 8;
  out.writeUInt8(OP_CODE[r.op], at++);
  out.writeUInt16LE(name.length, at);
  name.copy(out, at + 2);
  at += 2 + name.length;
  out.writeUInt32LE(r.ids.length, at);
  out.writeUInt32LE(r.op === 'delete' ? 0 : r.dim, at + 4);
  at += 8;
  for (const b of ids) {
    out.writeUInt16LE(b.length, at);
    b.copy(out, at + 2);
    at += 2 + b.length;
  }
  const vectors = Buffer.from(r.vectors.buffer, r.vectors.byteOffset, r.vectors.byteLength);
  const headCrc = crc32(out.subarray(HEADER));
  // Not crc32(empty, headCrc): over a zero-length view of an empty ArrayBuffer it returns 0.
  out.writeUInt32LE(vectors.length === 0 ? headCrc : crc32(vectors, headCrc), 8);
  return [out, vectors];
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
    const op = OP_NAME[body.readUInt8(at++)];
    if (op === undefined) return bad('unknown operation');
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
    if (at + floats * 4 !== body.length) return bad('record fields do not fill it');
    const vectors = new Float32Array(floats);
    Buffer.from(vectors.buffer).set(body.subarray(at, at + floats * 4));
    return { kind: 'record', record: { lsn, op, collection, ids, vectors, dim }, next: offset + length };
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

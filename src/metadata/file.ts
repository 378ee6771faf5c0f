/**
 * The .meta file format: a shard's MetadataTable, column by column, as its typed arrays are,
 * so loading is copying rather than rebuilding records. Encoding and decoding only (like
 * ids/id-file.ts): the bytes come from and go to disk elsewhere.
 *
 *   `SHOALMET` | version u32 | CRC-32 of the payload u32 | columns u32 | payload
 *   payload, per column:
 *     name: u32 length + UTF-8 | labels u32 | flags u32 (1: numbers, 2: refs) | listsUsed u32 |
 *     live u32 | kind u8 x labels | [num f64 x labels] | [ref u32 x labels] | lists u32 x listsUsed |
 *     dictionary: u32 length + IdTable bytes | refs: u32 count + u32 x count
 */
import { crc32 } from 'node:zlib';

import { CorruptionError, NotASegmentError, UnsupportedVersionError } from '../errors.js';
import { IdTable } from '../ids/id-table.js';
import { type ColumnParts, LIST, MetadataTable, type MetadataTableParts } from './table.js';

const MAGIC = Buffer.from('SHOALMET');
const VERSION = 1;
/** Bytes of the header summarizeMetaFile reads. */
export const META_FILE_HEAD_BYTES = 20;

export function encodeMetaFile(table: MetadataTable): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number): void => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    parts.push(b);
  };
  const raw = (a: ArrayBufferView): void => {
    parts.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  };
  let columns = 0;
  for (const c of table.columns()) {
    columns++;
    const name = Buffer.from(c.name, 'utf8');
    u32(name.length);
    parts.push(name);
    u32(c.kind.length);
    u32((c.num !== null ? 1 : 0) | (c.ref !== null ? 2 : 0));
    u32(c.listsUsed);
    u32(c.live);
    raw(c.kind);
    if (c.num !== null) raw(c.num);
    if (c.ref !== null) raw(c.ref);
    raw(c.lists.subarray(0, c.listsUsed));
    const dict = c.dict.serialize();
    u32(dict.length);
    raw(dict);
    u32(c.refs.length);
    raw(c.refs);
  }
  const payload = Buffer.concat(parts);
  const header = Buffer.alloc(META_FILE_HEAD_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(VERSION, 8);
  header.writeUInt32LE(crc32(payload), 12);
  header.writeUInt32LE(columns, 16);
  return Buffer.concat([header, payload]);
}

function checkHead(head: Buffer, path: string): number {
  if (head.length < META_FILE_HEAD_BYTES || !head.subarray(0, 8).equals(MAGIC)) throw new NotASegmentError(`${path}: not a shoal metadata file`, { file: path });
  const version = head.readUInt32LE(8);
  if (version !== VERSION) throw new UnsupportedVersionError(`${path}: metadata file version ${version} is not supported`, { file: path, version, supported: VERSION });
  return head.readUInt32LE(16);
}

/**
 * The table's parts, ready to send to another thread.
 * @throws {NotASegmentError}, {UnsupportedVersionError}, {CorruptionError} naming `path`.
 */
export function decodeMetaFile(bytes: Buffer, path: string): MetadataTableParts {
  const columns = checkHead(bytes, path);
  const payload = bytes.subarray(META_FILE_HEAD_BYTES);
  if (crc32(payload) !== bytes.readUInt32LE(12)) throw new CorruptionError(`${path}: metadata file checksum mismatch`, { file: path });
  const damaged = (why: string): CorruptionError => new CorruptionError(`${path}: ${why}`, { file: path });
  let at = 0;
  const u32 = (): number => {
    if (at + 4 > payload.length) throw damaged('metadata file is cut short');
    const v = payload.readUInt32LE(at);
    at += 4;
    return v;
  };
  /** A copy (so the typed array is aligned and owns its buffer). */
  const take = (n: number): ArrayBuffer => {
    if (at + n > payload.length) throw damaged('metadata file is cut short');
    const copy = new Uint8Array(n);
    copy.set(payload.subarray(at, at + n));
    at += n;
    return copy.buffer;
  };
  const out: ColumnParts[] = [];
  for (let i = 0; i < columns; i++) {
    const name = Buffer.from(take(u32())).toString('utf8');
    const labels = u32();
    const flags = u32();
    const listsUsed = u32();
    const live = u32();
    const kind = new Uint8Array(take(labels));
    const num = (flags & 1) !== 0 ? new Float64Array(take(8 * labels)) : null;
    const ref = (flags & 2) !== 0 ? new Uint32Array(take(4 * labels)) : null;
    const lists = new Uint32Array(take(4 * listsUsed));
    let dict;
    try {
      dict = IdTable.deserialize(new Uint8Array(take(u32()))).toParts();
    } catch (err) {
      if (err instanceof CorruptionError) throw err;
      throw damaged(`column ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
    const refs = new Uint32Array(take(4 * u32()));
    // Every reference must point inside its arrays: a damaged file must not become a wrong answer.
    let listed = 0;
    for (let label = 0; label < labels; label++) {
      const k = kind[label] as number;
      if (k > LIST || ((k === 1 || k === LIST) && ref === null) || (k === 2 && num === null)) throw damaged(`column ${JSON.stringify(name)}: bad value kind`);
      if (k === LIST) {
        const start = (ref as Uint32Array)[label] as number;
        if (start >= listsUsed || start + 1 + (lists[start] as number) > listsUsed) throw damaged(`column ${JSON.stringify(name)}: list out of range`);
        listed += 1 + (lists[start] as number);
      }
    }
    out.push({ name, kind, num, ref, dict, refs, lists, listsUsed, listsGarbage: listsUsed - listed, live });
  }
  if (at !== payload.length) throw damaged('metadata file has trailing bytes');
  return { columns: out };
}

/** An upper bound of what loading the file will hold, from its head and size. */
export function metaFileLoadBytes(head: Buffer, size: number, path: string): number {
  const columns = checkHead(head, path);
  // Arrays are copied as stored; each dictionary rebuilds its hash index and scratch.
  return 2 * size + columns * (new IdTable().bytes() + 256);
}

/** Decodes in this thread: for tests and tools. */
export function readMetaTable(bytes: Buffer, path: string): MetadataTable {
  return MetadataTable.fromParts(decodeMetaFile(bytes, path));
}

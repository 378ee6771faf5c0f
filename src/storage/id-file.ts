/**
 * A shard's .ids file: `SHOALIDS`, format version (u32), CRC-32 of the payload (u32), then the
 * IdTable's serialised bytes. Written atomically; a damaged file is a CorruptionError.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';

import { CorruptionError, IoError, NotASegmentError, ShoalError, UnsupportedVersionError } from '../errors.js';
import { IdTable } from '../ids/id-table.js';
import { writeFileAtomic } from './atomic-file.js';

const MAGIC = Buffer.from('SHOALIDS');
const VERSION = 1;

export function writeIds(path: string, table: IdTable): void {
  const payload = table.serialize();
  const header = Buffer.alloc(16);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(VERSION, 8);
  header.writeUInt32LE(crc32(payload), 12);
  writeFileAtomic(path, Buffer.concat([header, payload]));
}

export function readIds(path: string): IdTable {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new IoError(`${path}: cannot read: ${(cause as Error).message}`, { path }, { cause });
  }
  if (bytes.length < 16 || !bytes.subarray(0, 8).equals(MAGIC)) throw new NotASegmentError(`${path}: not a shoal ids file`, { file: path });
  const version = bytes.readUInt32LE(8);
  if (version !== VERSION) throw new UnsupportedVersionError(`${path}: ids file version ${version} is not supported`, { file: path, version });
  const payload = bytes.subarray(16);
  if (crc32(payload) !== bytes.readUInt32LE(12)) throw new CorruptionError(`${path}: ids file checksum mismatch`, { file: path });
  try {
    return IdTable.deserialize(payload);
  } catch (err) {
    throw new CorruptionError(`${path}: ${(err as ShoalError).message}`, { file: path });
  }
}

/** What loading an ids file will hold, from its first 24 bytes and its size. */
export function readIdsSummary(path: string): { count: number; nextLabel: number; idBytes: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new IoError(`${path}: cannot read: ${(cause as Error).message}`, { path }, { cause });
  }
  try {
    const head = Buffer.alloc(24);
    const got = readSync(fd, head, 0, 24, 0);
    const size = fstatSync(fd).size;
    if (got < 24 || !head.subarray(0, 8).equals(MAGIC)) throw new NotASegmentError(`${path}: not a shoal ids file`, { file: path });
    if (head.readUInt32LE(8) !== VERSION) throw new UnsupportedVersionError(`${path}: ids file version ${head.readUInt32LE(8)} is not supported`, { file: path });
    const count = head.readUInt32LE(16);
    const nextLabel = head.readUInt32LE(20);
    const idBytes = size - 28 - 6 * count - 4 * (nextLabel - count);
    if (nextLabel < count || idBytes < 0) throw new CorruptionError(`${path}: ids file counts do not match its size`, { file: path });
    return { count, nextLabel, idBytes };
  } finally {
    closeSync(fd);
  }
}

/**
 * The .ids file format: `SHOALIDS`, format version (u32), CRC-32 of the payload (u32), then the
 * IdTable's serialised bytes. Encoding and decoding only: the bytes come from and go to disk
 * elsewhere (storage/files.ts on the main thread, the pool worker for loads), so neither the
 * pool nor storage depends on the other through this format.
 */
import { crc32 } from 'node:zlib';

import { CorruptionError, NotASegmentError, type ShoalError, UnsupportedVersionError } from '../errors.js';
import { IdTable } from './id-table.js';

const MAGIC = Buffer.from('SHOALIDS');
const VERSION = 1;
/** Bytes of the header that summarizeIdFile reads: magic, version, CRC, count, next label. */
export const ID_FILE_HEAD_BYTES = 24;

export interface IdFileSummary {
  readonly count: number;
  readonly nextLabel: number;
  readonly idBytes: number;
}

export function encodeIdFile(table: IdTable): Buffer {
  const payload = table.serialize();
  const header = Buffer.alloc(16);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(VERSION, 8);
  header.writeUInt32LE(crc32(payload), 12);
  return Buffer.concat([header, payload]);
}

/** @throws {NotASegmentError}, {UnsupportedVersionError}, {CorruptionError} naming `path`. */
export function decodeIdFile(bytes: Buffer, path: string): IdTable {
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

/** What loading an ids file will hold, from its first ID_FILE_HEAD_BYTES bytes and its size. */
export function summarizeIdFile(head: Buffer, size: number, path: string): IdFileSummary {
  if (head.length < ID_FILE_HEAD_BYTES || !head.subarray(0, 8).equals(MAGIC)) throw new NotASegmentError(`${path}: not a shoal ids file`, { file: path });
  if (head.readUInt32LE(8) !== VERSION) throw new UnsupportedVersionError(`${path}: ids file version ${head.readUInt32LE(8)} is not supported`, { file: path });
  const count = head.readUInt32LE(16);
  const nextLabel = head.readUInt32LE(20);
  const idBytes = size - 28 - 6 * count - 4 * (nextLabel - count);
  if (nextLabel < count || idBytes < 0) throw new CorruptionError(`${path}: ids file counts do not match its size`, { file: path });
  return { count, nextLabel, idBytes };
}

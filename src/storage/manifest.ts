/**
 * The MANIFEST: every collection's settings and, per shard, which file generation holds its
 * flushed state. Writing it (atomically) is the commit point of a flush: files of a new
 * generation exist before the manifest names them, and old ones are removed after.
 * Format: a first line `SHOAL-MANIFEST <version> <crc32 of the JSON, hex>`, then the JSON.
 */
import { existsSync, readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';

import { CorruptionError, IoError, UnsupportedVersionError } from '../errors.js';
import type { SpaceName } from '../native/binding.js';
import { writeFileAtomic } from './atomic-file.js';
import { checkCollectionName, manifestPath } from './layout.js';

export const MANIFEST_VERSION = 1;

export interface ShardRecord {
  /** 0: never flushed, no files. */
  readonly generation: number;
  readonly count: number;
  /** The files hold every logged write up to this LSN (replay skips those). */
  readonly flushedLsn?: number;
  /** The generation has a .meta file (absent: written before shoal kept metadata; none). */
  readonly metadata?: boolean;
}

/** A shard resident at the last clean close: warm start re-admits these. */
export interface HotShard {
  readonly collection: string;
  readonly shard: number;
  readonly bytes: number;
  readonly lastUsedMs: number;
  readonly priority: string;
}

export interface CollectionRecord {
  readonly name: string;
  readonly dim: number;
  readonly space: SpaceName;
  readonly M: number;
  readonly efConstruction: number;
  readonly efSearch: number;
  readonly shards: readonly ShardRecord[];
  readonly createdAtMs: number;
  readonly priority?: 'low' | 'medium' | 'high' | 'critical';
  readonly quotaBytes?: number;
  /** The log's last LSN when the collection was created: older records are not its own. */
  readonly createdLsn?: number;
  /** Set once a damaged file of the collection was moved aside: it stays unusable. */
  readonly failure?: { readonly message: string; readonly file: string; readonly keptAs: string };
}

export interface Manifest {
  readonly collections: readonly CollectionRecord[];
  /** Written by a clean close: what was resident, for warm start. */
  readonly hot?: readonly HotShard[];
}

export function encodeManifest(manifest: Manifest): Uint8Array {
  const hot = manifest.hot ?? [];
  const json = JSON.stringify(hot.length > 0 ? { collections: manifest.collections, hot } : { collections: manifest.collections }, null, 1);
  const body = Buffer.from(json, 'utf8');
  return Buffer.concat([Buffer.from(`SHOAL-MANIFEST ${MANIFEST_VERSION} ${crc32(body).toString(16)}\n`), body]);
}

export function decodeManifest(bytes: Uint8Array, path: string): Manifest {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const newline = buf.indexOf(10);
  const header = newline < 0 ? '' : buf.subarray(0, newline).toString('utf8');
  const match = /^SHOAL-MANIFEST (\d+) ([0-9a-f]+)$/.exec(header);
  if (match === null) throw new CorruptionError(`${path}: not a shoal manifest`, { file: path });
  const version = Number(match[1]);
  if (version !== MANIFEST_VERSION) {
    throw new UnsupportedVersionError(`${path}: manifest version ${version} is not supported (this build reads ${MANIFEST_VERSION})`, {
      file: path,
      version,
    });
  }
  const body = buf.subarray(newline + 1);
  if (crc32(body).toString(16) !== match[2]) throw new CorruptionError(`${path}: manifest checksum mismatch`, { file: path });
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new CorruptionError(`${path}: manifest is not valid JSON`, { file: path });
  }
  const collections = (parsed as { collections?: unknown } | null)?.collections;
  if (!Array.isArray(collections) || !collections.every(isCollectionRecord)) {
    throw new CorruptionError(`${path}: manifest does not describe collections`, { file: path });
  }
  const hot = (parsed as { hot?: unknown }).hot;
  return Array.isArray(hot) && hot.length > 0 ? { collections, hot: hot as HotShard[] } : { collections };
}

/** A name that is safe as a directory (layout.ts's rule), so a crafted manifest cannot escape. */
function isSafeName(name: string): boolean {
  try {
    checkCollectionName(name);
    return true;
  } catch {
    return false;
  }
}

function isCollectionRecord(r: unknown): r is CollectionRecord {
  const c = r as Partial<CollectionRecord> | null;
  return (
    typeof c === 'object' && c !== null && typeof c.name === 'string' && isSafeName(c.name) && Number.isInteger(c.dim) &&
    (c.space === 'l2' || c.space === 'ip' || c.space === 'cosine') && Number.isInteger(c.M) &&
    Number.isInteger(c.efConstruction) && Number.isInteger(c.efSearch) && Array.isArray(c.shards) &&
    c.shards.length > 0 && c.shards.every((s) => Number.isInteger(s?.generation) && Number.isInteger(s?.count))
  );
}

export function readManifest(root: string): Manifest {
  const path = manifestPath(root);
  if (!existsSync(path)) return { collections: [] };
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new IoError(`${path}: cannot read: ${(cause as Error).message}`, { path }, { cause });
  }
  return decodeManifest(bytes, path);
}

export function writeManifest(root: string, manifest: Manifest): void {
  writeFileAtomic(manifestPath(root), encodeManifest(manifest));
}

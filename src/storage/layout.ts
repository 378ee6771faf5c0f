/**
 * Where things live in a data directory, and which collection names are allowed. Pure: no I/O.
 *
 *   <path>/LOCK                                  the live process's pid (dir-lock.ts)
 *   <path>/MANIFEST                              collections, shards, generations (manifest.ts)
 *   <path>/collections/<name>/<shard>-<gen>.seg  a shard's native segment (native/segment_file.h)
 *   <path>/collections/<name>/<shard>-<gen>.ids  its id table (ids/id-table.ts)
 *   <path>/collections/<name>/<shard>-<gen>.meta its metadata (metadata/file.ts; absent before metadata existed)
 */
import { join } from 'node:path';

import { InvalidArgumentError } from '../errors.js';
import { describe } from '../vectors.js';

export const MAX_NAME_LENGTH = 128;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Throws InvalidArgumentError unless `name` is a safe directory name of at most 128 chars. */
export function checkCollectionName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH || !NAME.test(name) || name.includes('..')) {
    throw new InvalidArgumentError(
      `name: must be 1 to ${MAX_NAME_LENGTH} characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, ` +
        `without '..', got ${describe(name)}`,
    );
  }
  return name;
}

export const lockPath = (root: string): string => join(root, 'LOCK');
export const manifestPath = (root: string): string => join(root, 'MANIFEST');
export const collectionDir = (root: string, name: string): string => join(root, 'collections', name);
export const segmentPath = (root: string, name: string, shard: number, generation: number): string =>
  join(collectionDir(root, name), `${shard}-${generation}.seg`);
export const idsPath = (root: string, name: string, shard: number, generation: number): string =>
  join(collectionDir(root, name), `${shard}-${generation}.ids`);
export const metaPath = (root: string, name: string, shard: number, generation: number): string =>
  join(collectionDir(root, name), `${shard}-${generation}.meta`);

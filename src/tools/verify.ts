/**
 * Checks every file of a closed data directory, without opening a database and without
 * writing anything: what `shoal verify` runs.
 *
 * - MANIFEST: header, version, checksum, JSON and record structure (as Shoal.open reads it).
 * - Each shard the manifest names: its .ids file (magic, version, CRC-32, every entry) and its
 *   .seg file, loaded in full by the native core (header and payload CRC-32C, the graph's
 *   structure), then cross-checked: the segment's settings are the collection's, its live count
 *   is the id file's and the manifest's, and every label the id file names is a live element.
 * - Each log file: every record's framing, CRC-32 and LSN order, as recovery reads them.
 * - Collections the manifest records as failed (a damaged file was moved aside).
 *
 * Leftovers (temporary files, unnamed generations, damaged bytes kept aside) are warnings:
 * they are not read by anything. One shard is loaded at a time, so memory peaks at the largest
 * segment.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

import { InvalidArgumentError, ShoalError } from '../errors.js';
import { decodeIdFile } from '../ids/id-file.js';
import type { IdTable } from '../ids/id-table.js';
import { native, nativeAsync, type SegmentHandle } from '../native/binding.js';
import { readMetaTable } from '../metadata/file.js';
import { idsPath, manifestPath, metaPath, segmentPath } from '../storage/layout.js';
import { readManifest, type CollectionRecord, type Manifest } from '../storage/manifest.js';
import { scanRecords } from '../storage/wal-record.js';
import { filesBelow } from './inspect.js';

export interface Problem {
  /** The damaged file, relative to the directory. */
  readonly file: string;
  readonly problem: string;
}

export interface VerifyReport {
  readonly path: string;
  readonly healthy: boolean;
  /** Files read and checked, and their bytes. */
  readonly checked: { readonly files: number; readonly bytes: number };
  readonly problems: readonly Problem[];
  readonly warnings: readonly string[];
}

/** Labels checked against the segment per call. */
const LABEL_CHUNK = 8192;

/** @throws {InvalidArgumentError} when `root` is not a directory. */
export async function verifyDirectory(root: string): Promise<VerifyReport> {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new InvalidArgumentError(`dir: ${root} is not a directory`);
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const rel = (path: string): string => relative(root, path) || '.';
  const checkedFiles = new Set<string>();
  const fail = (path: string, problem: string): void => void problems.push({ file: rel(path), problem });

  let manifest: Manifest = { collections: [] };
  if (existsSync(manifestPath(root))) {
    checkedFiles.add(manifestPath(root));
    try {
      manifest = readManifest(root);
    } catch (err) {
      fail(manifestPath(root), message(err));
    }
  } else if (existsSync(join(root, 'collections')) && readdirSync(join(root, 'collections')).length > 0) {
    fail(manifestPath(root), 'missing, yet collection folders exist: without it the database opens empty');
  } else {
    warnings.push('no MANIFEST: an empty database');
  }

  for (const record of manifest.collections) {
    if (record.failure !== undefined) {
      fail(record.failure.file, `collection ${JSON.stringify(record.name)} was found damaged when opened (${record.failure.message})`);
      continue;
    }
    for (let index = 0; index < record.shards.length; index++) {
      const shard = record.shards[index];
      if (shard === undefined || shard.generation === 0) continue;
      const seg = segmentPath(root, record.name, index, shard.generation);
      const ids = idsPath(root, record.name, index, shard.generation);
      checkedFiles.add(seg).add(ids);
      await checkShard(record, shard.count, seg, ids, fail);
      if (shard.metadata === true) {
        const meta = metaPath(root, record.name, index, shard.generation);
        checkedFiles.add(meta);
        try {
          readMetaTable(readFileSync(meta), meta);
        } catch (err) {
          fail(meta, message(err));
        }
      }
    }
  }

  checkLog(root, checkedFiles, fail);

  for (const f of filesBelow(root)) {
    if (checkedFiles.has(f.path) || f.path === join(root, 'LOCK')) continue;
    const name = rel(f.path);
    if (/\.(corrupt|tail|damaged)-/.test(name)) warnings.push(`${name}: damaged bytes kept aside by an earlier recovery (not read; keep or delete)`);
    else if (name.includes('.tmp-')) warnings.push(`${name}: temporary file of an unfinished write (removed at the next open)`);
    else if (/^collections\//.test(name)) warnings.push(`${name}: not named by the manifest (an old generation or a deleted collection; removed at the next open)`);
    else warnings.push(`${name}: not a shoal file`);
  }

  const bytes = [...checkedFiles].reduce((n, f) => n + (existsSync(f) ? statSync(f).size : 0), 0);
  return { path: root, healthy: problems.length === 0, checked: { files: checkedFiles.size, bytes }, problems, warnings };
}

async function checkShard(record: CollectionRecord, count: number, seg: string, ids: string, fail: (path: string, problem: string) => void): Promise<void> {
  let table: IdTable | null = null;
  try {
    table = decodeIdFile(readFileSync(ids), ids);
    if (table.size !== count) fail(ids, `holds ${table.size} ids; the manifest says ${count}`);
  } catch (err) {
    fail(ids, message(err));
  }
  let handle: SegmentHandle | null = null;
  try {
    handle = await nativeAsync.loadSegment(seg);
    const info = native.segmentInfo(handle);
    const expected = { dim: record.dim, space: record.space, M: record.M, efConstruction: record.efConstruction };
    const found = { dim: info.dim, space: info.space, M: info.M, efConstruction: info.efConstruction };
    if (JSON.stringify(expected) !== JSON.stringify(found)) {
      fail(seg, `holds a segment of ${JSON.stringify(found)}; collection ${JSON.stringify(record.name)} is ${JSON.stringify(expected)}`);
    }
    if (table === null) return;
    if (info.count !== table.size) fail(seg, `holds ${info.count} live vectors; its ids file names ${table.size}`);
    const labels = [...table.entries()].map(([, label]) => label);
    for (let from = 0; from < labels.length; from += LABEL_CHUNK) {
      const chunk = Uint32Array.from(labels.slice(from, from + LABEL_CHUNK));
      try {
        await nativeAsync.getVectors(handle, chunk);
      } catch (err) {
        fail(seg, `the ids file names labels the segment does not hold: ${message(err)}`);
        break;
      }
    }
  } catch (err) {
    fail(seg, message(err));
  } finally {
    if (handle !== null) await nativeAsync.freeSegment(handle);
  }
}

/** Every log file, records in order across files, as recovery would read them. */
function checkLog(root: string, checked: Set<string>, fail: (path: string, problem: string) => void): void {
  const dir = join(root, 'wal');
  if (!existsSync(dir)) return;
  let lastLsn = 0;
  for (const name of readdirSync(dir).filter((n) => /^\d{16}\.log$/.test(n)).sort()) {
    const path = join(dir, name);
    checked.add(path);
    const buf = readFileSync(path);
    for (const item of scanRecords(buf, lastLsn)) {
      if (item.kind === 'damaged') {
        const where = item.end === buf.length ? `from byte ${item.offset} to the end (${item.end - item.offset} bytes)` : `bytes ${item.offset} to ${item.end}`;
        fail(path, `${where} are not whole records (${item.why}): the next open keeps them aside and loses the writes they held`);
      } else {
        lastLsn = item.record.lsn;
      }
    }
  }
}

function message(err: unknown): string {
  return err instanceof ShoalError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
}

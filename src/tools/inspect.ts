/**
 * Facts about a data directory read from its files alone, without opening a database: what
 * `shoal stats` prints. Nothing is written and no lock is taken: the manifest is read once
 * (files are replaced atomically, so it is a consistent snapshot), then the files it names are
 * measured. A directory open in another process can be read this way too; its figures are
 * those of its last flush, and `live` says so. The one race, a flush removing a generation the
 * snapshot named while it is measured, is met by reading the manifest again.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

import { nativeLock } from '../native/binding.js';
import { scanRecords } from '../storage/wal-record.js';
import { idsPath, lockPath, manifestPath, metaPath, segmentPath } from '../storage/layout.js';
import { readManifest, type CollectionRecord, type Manifest } from '../storage/manifest.js';

export interface ShardFacts {
  readonly index: number;
  /** 0: never saved, no files. */
  readonly generation: number;
  /** Live ids in the saved files. */
  readonly count: number;
  readonly flushedLsn: number;
  readonly segmentBytes: number;
  readonly idsBytes: number;
  /** The .meta file (0 where the generation has none: saved before shoal kept metadata). */
  readonly metadataBytes: number;
}

export interface CollectionFacts {
  readonly name: string;
  /** Live ids in the saved files plus nothing of the log (see unflushedWrites). */
  readonly count: number;
  readonly dim: number;
  readonly space: string;
  readonly M: number;
  readonly efConstruction: number;
  readonly efSearch: number;
  readonly shards: number;
  readonly priority: string;
  readonly quotaBytes: number;
  readonly createdAt: string;
  /** Bytes of its current segment and id files. */
  readonly bytesOnDisk: number;
  /** Logged write batches that its files do not hold yet: the next open replays them. */
  readonly unflushedWrites: number;
  /** Set when a damaged file was found and moved aside: the collection cannot be used. */
  readonly failure: string | null;
  readonly shardDetails: readonly ShardFacts[];
}

export interface DirectoryFacts {
  readonly path: string;
  /** The process that has the directory open now (its lock is held), or null. */
  readonly live: { readonly pid: number } | null;
  readonly collections: readonly CollectionFacts[];
  readonly log: { readonly files: number; readonly bytes: number; readonly records: number; readonly lastLsn: number };
  /** Every byte below the directory, leftovers included. */
  readonly bytesOnDisk: number;
  /** Files a crash or a quarantine left (temporary files, old generations, damaged files kept aside). */
  readonly leftovers: readonly string[];
  /** Shards resident at the last clean close (warm start re-admits them). */
  readonly hotShards: number;
}

/** @throws {CorruptionError} for a damaged manifest, {IoError} */
export function inspectDirectory(root: string): DirectoryFacts {
  for (let attempt = 0; ; attempt++) {
    const manifest = readManifest(root);
    try {
      return describeDirectory(root, manifest);
    } catch (err) {
      // A file the snapshot named was removed by a flush in a live process: read again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 3) throw err;
    }
  }
}

function describeDirectory(root: string, manifest: Manifest): DirectoryFacts {
  const log = readLog(root);
  const named = new Set<string>([lockPath(root), manifestPath(root)]);
  const collections = manifest.collections.map((r) => {
    const shardDetails = r.shards.map((s, index): ShardFacts => {
      const flushedLsn = s.flushedLsn ?? r.createdLsn ?? 0;
      if (s.generation === 0 || r.failure !== undefined) return { index, generation: s.generation, count: s.count, flushedLsn, segmentBytes: 0, idsBytes: 0, metadataBytes: 0 };
      const seg = segmentPath(root, r.name, index, s.generation);
      const ids = idsPath(root, r.name, index, s.generation);
      named.add(seg).add(ids);
      const meta = s.metadata === true ? metaPath(root, r.name, index, s.generation) : null;
      if (meta !== null) named.add(meta);
      const metadataBytes = meta !== null && existsSync(meta) ? statSync(meta).size : 0;
      return { index, generation: s.generation, count: s.count, flushedLsn, segmentBytes: statSync(seg).size, idsBytes: statSync(ids).size, metadataBytes };
    });
    return {
      name: r.name,
      count: shardDetails.reduce((n, s) => n + s.count, 0),
      dim: r.dim,
      space: r.space,
      M: r.M,
      efConstruction: r.efConstruction,
      efSearch: r.efSearch,
      shards: r.shards.length,
      priority: r.priority ?? 'medium',
      quotaBytes: r.quotaBytes ?? 0,
      createdAt: new Date(r.createdAtMs).toISOString(),
      bytesOnDisk: shardDetails.reduce((n, s) => n + s.segmentBytes + s.idsBytes + s.metadataBytes, 0),
      unflushedWrites: unflushed(r, log.records),
      failure: r.failure?.message ?? null,
      shardDetails,
    };
  });
  const all = filesBelow(root);
  const leftovers = all.filter((f) => !named.has(f.path) && !isLogFile(root, f.path)).map((f) => relative(root, f.path));
  return {
    path: root,
    live: inspectLock(root),
    collections,
    log: { files: log.files, bytes: log.bytes, records: log.records.length, lastLsn: log.records.reduce((m, r) => Math.max(m, r.lsn), 0) },
    bytesOnDisk: all.reduce((n, f) => n + f.bytes, 0),
    leftovers,
    hotShards: manifest.hot?.length ?? 0,
  };
}

interface LoggedWrite {
  readonly lsn: number;
  readonly collection: string;
  readonly ids: readonly string[];
}

/** Every undamaged record of every log file (damage is verify's business). */
function readLog(root: string): { files: number; bytes: number; records: LoggedWrite[] } {
  const dir = join(root, 'wal');
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => /^\d{16}\.log$/.test(n)).sort() : [];
  const records: LoggedWrite[] = [];
  let bytes = 0;
  for (const name of names) {
    const buf = readFileSync(join(dir, name));
    bytes += buf.length;
    for (const item of scanRecords(buf, 0)) {
      if (item.kind === 'record') records.push({ lsn: item.record.lsn, collection: item.record.collection, ids: item.record.ids });
    }
  }
  return { files: names.length, bytes, records };
}

/** Write batches of the collection logged after the files of some shard they touch (cheap bound: any shard). */
function unflushed(r: CollectionRecord, records: readonly LoggedWrite[]): number {
  const oldest = Math.min(...r.shards.map((s) => s.flushedLsn ?? r.createdLsn ?? 0));
  return records.filter((w) => w.collection === r.name && w.lsn > oldest && w.lsn > (r.createdLsn ?? 0)).length;
}

/**
 * The process holding the directory's lock, found without taking it (native probe: LOCK opened
 * read-only, never created or written). pid 0: held, LOCK names no pid.
 */
export function inspectLock(root: string): { pid: number } | null {
  const pid = nativeLock.probeFileLock(lockPath(root));
  return pid === null ? null : { pid };
}

function isLogFile(root: string, path: string): boolean {
  return path.startsWith(join(root, 'wal')) && /\d{16}\.log$/.test(path);
}

/** Every file below `dir` with its size. */
export function filesBelow(dir: string): { path: string; bytes: number }[] {
  const out: { path: string; bytes: number }[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    try {
      out.push({ path, bytes: statSync(path).size });
    } catch {
      /* removed meanwhile by a live process */
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

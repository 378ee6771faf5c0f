/**
 * Pool worker: one export per task in protocol.ts. The only module that makes blocking native
 * calls, which is safe here: this thread exists to wait on them. Errors are returned as data
 * because piscina would clone them into plain Errors without their class or code.
 */
import { readFileSync } from 'node:fs';
import { parentPort, threadId } from 'node:worker_threads';

import { CorruptionError, IoError, toWire } from '../errors.js';
import { decodeIdFile } from '../ids/id-file.js';
import { decodeMetaFile } from '../metadata/file.js';
import { nativeSync } from '../native/binding.js';
import { heapReporter } from './heap-report.js';
import { WORKER_LOADED, type Reply, type Tasks } from './protocol.js';

const reportHeap = heapReporter(threadId, (message) => parentPort?.postMessage(message));

function reply<T>(work: () => T): Reply<T> {
  try {
    return { ok: true, value: work() };
  } catch (err) {
    return { ok: false, error: toWire(err) };
  } finally {
    reportHeap();
  }
}

type Handler<K extends keyof Tasks> = (task: Tasks[K]['in']) => Reply<Tasks[K]['out']>;

export const create: Handler<'create'> = (t) => reply(() => nativeSync.createSegment(t.spec));
export const load: Handler<'load'> = (t) =>
  reply(() => {
    const handle = nativeSync.loadSegment(t.path, t.capacity);
    try {
      // Here, not on the main thread: hashing a shard's ids is ~0.6 ms per 10,000 and grows
      // with the shard, which would block the event loop.
      const ids = decodeIdFile(readShardFile(t.idsPath), t.idsPath).toParts();
      return { handle, ids, meta: t.metaPath === null ? null : decodeMetaFile(readShardFile(t.metaPath), t.metaPath) };
    } catch (err) {
      nativeSync.freeSegment(handle);
      throw err;
    }
  });
/** A missing .ids or .meta file that the manifest names is damage (CorruptionError), not an I/O fault. */
function readShardFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') throw new CorruptionError(`${path}: a file the manifest names is missing`, { file: path });
    throw new IoError(`${path}: cannot read: ${(cause as Error).message}`, { path }, { cause });
  }
}

export const save: Handler<'save'> = (t) => reply(() => nativeSync.saveSegment(t.handle, t.path));
export const free: Handler<'free'> = (t) => reply(() => nativeSync.freeSegment(t.handle));
export const add: Handler<'add'> = (t) => reply(() => nativeSync.addBatch(t.handle, t.labels, t.vectors, t.upsert, undefined, t.threads));
export const remove: Handler<'delete'> = (t) => reply(() => nativeSync.deleteBatch(t.handle, t.labels));
export const resize: Handler<'resize'> = (t) => reply(() => nativeSync.resizeSegment(t.handle, t.capacity));
export const get: Handler<'get'> = (t) => reply(() => nativeSync.getVectors(t.handle, t.labels));

export const search: Handler<'search'> = (t) =>
  reply(() => {
    const queries = new Float32Array(t.queries, t.from * t.dim * 4, t.count * t.dim);
    const labels = new Uint32Array(t.outLabels, t.from * t.k * 4, t.count * t.k);
    const distances = new Float32Array(t.outDistances, t.from * t.k * 4, t.count * t.k);
    nativeSync.searchBatchInto(t.handle, queries, t.k, t.ef, t.allow, null, labels, distances, t.allowBits);
  });

// Last, so every import above has loaded: the pool may terminate this thread from now on
// (see Pool.close).
parentPort?.postMessage({ [WORKER_LOADED]: threadId });

/**
 * The only module that loads the addon. It declares the addon's exact shape, hands out branded
 * handles and turns native failures into ShoalError subclasses; nothing above it sees the
 * addon object. Cheap calls (`native`) are safe on the main thread. Calls that take a segment
 * lock or do work proportional to data come in two forms: `nativeAsync` (a Promise; the work
 * runs on libuv's thread pool) and `nativeSync` (blocking; for pool workers only).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { fromNative, InternalError } from '../errors.js';

declare const segmentBrand: unique symbol;
/** A registry slot in the addon: valid on every thread until the segment is freed. */
export type SegmentHandle = number & { readonly [segmentBrand]: true };

export type SpaceName = 'l2' | 'ip' | 'cosine';

export interface SegmentSpec {
  readonly dim: number;
  readonly space: SpaceName;
  readonly M?: number;
  readonly efConstruction?: number;
  /** Slots allocated up front; grow with resize. */
  readonly capacity: number;
  readonly seed?: number;
}

export interface SegmentInfo {
  readonly dim: number;
  readonly space: SpaceName;
  readonly M: number;
  readonly efConstruction: number;
  readonly capacity: number;
  readonly seed: number;
  /** Live elements. */
  readonly count: number;
  /** Deleted elements whose slots later adds reuse. */
  readonly deletedCount: number;
  readonly slotsUsed: number;
  /** Exact native bytes held now (allocator chunk sizes). */
  readonly bytes: number;
  readonly peakBytes: number;
  /**
   * Bytes the next add or delete allocates for hnswlib's per-label lock table, which a segment
   * holds only once written after it was created or loaded; 0 while it holds it.
   */
  readonly labelLockBytes: number;
  readonly concurrentSearchesPeak: number;
  readonly closed: boolean;
  /** The bytes by part (an upper-bound estimate from this segment's own counts; `bytes` is exact). */
  readonly breakdown: Omit<ByteEstimate, 'totalBytes'>;
}

export interface SegmentFileSummary {
  readonly dim: number;
  readonly space: SpaceName;
  readonly M: number;
  readonly efConstruction: number;
  readonly capacity: number;
  readonly seed: number;
  readonly formatVersion: number;
  readonly count: number;
  readonly deletedCount: number;
  readonly fileBytes: number;
}

export interface EstimateInput {
  readonly dim: number;
  readonly M: number;
  readonly capacity: number;
  readonly count?: number;
  readonly deletedCount?: number;
  readonly concurrentSearches?: number;
}

/** A safe upper bound of what a segment of this shape holds, by part. */
export interface ByteEstimate {
  readonly capacityBytes: number;
  readonly elementBytes: number;
  readonly fixedBytes: number;
  /** hnswlib's per-label lock table, part of fixedBytes: a loaded segment allocates it at its first write. */
  readonly labelLockBytes: number;
  readonly visitedBytes: number;
  readonly totalBytes: number;
}

/**
 * The allocator's own counters (glibc's mallinfo2). `available` is false, and the three
 * counters null, where the allocator offers none: musl, macOS, Windows, glibc before 2.33.
 * The exact per-segment counts (`bytes`, totalBytes) do not depend on them.
 */
export interface AllocatorCounters {
  readonly inUseBytes: number | null;
  readonly mmappedBytes: number | null;
  readonly freeBytes: number | null;
  readonly available: boolean;
  /** What setAllocatorSlack set. */
  readonly slackBytes: number;
  /** Heap bytes segments freed since the last trim that may still be mapped (an upper bound). */
  readonly retainedHeapBytes: number;
  /** Times free heap memory was returned to the OS so far. */
  readonly trims: number;
}

/** The process allocator as native/allocator.cc reads it (glibc only; null elsewhere). */
export interface AllocatorState {
  /** Whether the fixed thresholds below were accepted (false under a sanitizer's allocator). */
  readonly tuned: boolean;
  /** Blocks at or above this are mmapped and returned to the OS when freed. */
  readonly mmapThresholdBytes: number;
  /** Free memory above this at an arena's top is returned by free() at once. */
  readonly trimThresholdBytes: number;
  /** Bytes in chunks in use, every arena and mmapped block, by anything in the process (mallinfo2 uordblks + hblkhd). */
  readonly inUseBytes: number;
  /** Free bytes the arenas hold, whether or not a trim already returned their pages (fordblks). */
  readonly freeBytes: number;
  /** Free bytes at the top of the main arena (keepcost). */
  readonly topReleasableBytes: number;
  /** Free bytes gained since the last trim: still mapped, what a trim would return (an estimate). */
  readonly untrimmedFreeBytes: number;
  /** Trims by trimAllocatorBeyond so far. */
  readonly trims: number;
}

/** A distance kernel: SIMD families are chosen at run time from what the CPU has. */
export type KernelName = 'portable' | 'avx2-fma' | 'avx512' | 'neon';

export interface BuildInfo {
  /** The kernel in use (the best in `kernels`, unless SHOAL_SIMD caps it). */
  readonly kernel: KernelName;
  /** Every kernel this build can run on this CPU. */
  readonly kernels: readonly KernelName[];
  readonly sanitized: boolean;
  readonly napiVersion: number;
  readonly hnswlib: string;
  readonly segmentFormatVersion: number;
}

export interface SearchOutput {
  /** queries x k labels, nearest first; NO_LABEL where fewer than k were found. */
  readonly labels: Uint32Array;
  /** queries x k distances; +Infinity where fewer than k were found. */
  readonly distances: Float32Array;
}

export { NO_LABEL, MAX_LABEL } from './constants.js';

type Cancel = Int32Array | null | undefined;

/** The addon's exact shape; mirrors native/segment_exports.cc and native/process_exports.cc one-to-one. */
interface Addon {
  createSegment(spec: SegmentSpec): number;
  createSegmentAsync(spec: SegmentSpec): Promise<number>;
  loadSegment(path: string, capacity: number | undefined, cancel: Cancel): number;
  loadSegmentAsync(path: string, capacity: number | undefined, cancel: Cancel): Promise<number>;
  freeSegment(handle: number): void;
  freeSegmentAsync(handle: number): Promise<void>;
  addBatch(handle: number, labels: Uint32Array, vectors: Float32Array, upsert: boolean, cancel: Cancel, threads?: number): void;
  addBatchAsync(handle: number, labels: Uint32Array, vectors: Float32Array, upsert: boolean, cancel: Cancel, threads?: number): Promise<void>;
  deleteBatch(handle: number, labels: Uint32Array): void;
  deleteBatchAsync(handle: number, labels: Uint32Array): Promise<void>;
  searchBatch(
    handle: number, queries: Float32Array, k: number, ef: number, allow: Uint32Array | null, cancel: Cancel,
    outLabels?: Uint32Array, outDistances?: Float32Array, allowBits?: Uint32Array | null,
  ): SearchOutput | undefined;
  searchBatchAsync(
    handle: number, queries: Float32Array, k: number, ef: number, allow: Uint32Array | null, cancel: Cancel,
  ): Promise<SearchOutput>;
  getVectors(handle: number, labels: Uint32Array): Float32Array;
  getVectorsAsync(handle: number, labels: Uint32Array): Promise<Float32Array>;
  resizeSegment(handle: number, capacity: number): void;
  resizeSegmentAsync(handle: number, capacity: number): Promise<void>;
  saveSegment(handle: number, path: string, cancel: Cancel): void;
  saveSegmentAsync(handle: number, path: string, cancel: Cancel): Promise<void>;
  segmentInfo(handle: number): SegmentInfo;
  segmentBytes(handle: number): number;
  totalBytes(): number;
  peakTotalBytes(): number;
  liveSegments(): number;
  readSegmentFile(path: string): SegmentFileSummary;
  estimateBytes(input: EstimateInput): ByteEstimate;
  allocatorCounters(): AllocatorCounters;
  trimAllocator(): void;
  setAllocatorSlack(slackBytes: number): void;
  allocatorState(): AllocatorState | null;
  trimAllocatorBeyond(slackBytes: number): boolean;
  distance(space: SpaceName, a: Float32Array, b: Float32Array, kernel: KernelName): number;
  buildInfo(): BuildInfo;
  adjustExternalMemory(deltaBytes: number): number;
}

let loaded: Addon | null = null;

/**
 * The addon, loaded on first use rather than on import: modules that only need this file's
 * types or constants (and the processes that import them, such as tools reading a closed
 * directory) never load a native binary.
 */
function addonNow(): Addon {
  loaded ??= loadAddon();
  return loaded;
}

/** Every call below goes through here, so the addon loads at its first real use. */
const addon: Addon = new Proxy({} as Addon, {
  get: (_target, name: keyof Addon) => addonNow()[name],
});

function guard<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw fromNative(err);
  }
}

async function guardAsync<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw fromNative(err);
  }
}

const asHandle = (h: number): SegmentHandle => h as SegmentHandle;

/** Cheap calls: no lock wait, no work proportional to data. Safe on the main thread. */
export const native = {
  segmentInfo: (h: SegmentHandle): SegmentInfo => guard(() => addon.segmentInfo(h)),
  segmentBytes: (h: SegmentHandle): number => guard(() => addon.segmentBytes(h)),
  /** Exact native bytes held by every segment of the process. */
  totalBytes: (): number => addon.totalBytes(),
  peakTotalBytes: (): number => addon.peakTotalBytes(),
  liveSegments: (): number => addon.liveSegments(),
  readSegmentFile: (path: string): SegmentFileSummary => guard(() => addon.readSegmentFile(path)),
  estimateBytes: (input: EstimateInput): ByteEstimate => guard(() => addon.estimateBytes(input)),
  allocatorCounters: (): AllocatorCounters => addon.allocatorCounters(),
  trimAllocator: (): void => addon.trimAllocator(),
  /**
   * Free heap bytes the allocator may keep mapped after a segment is freed before they are
   * returned to the OS (process-wide; see native/accounting.h).
   */
  setAllocatorSlack: (slackBytes: number): void => guard(() => addon.setAllocatorSlack(slackBytes)),
  /** The allocator's thresholds and free bytes (native/allocator.h); null where it is not glibc's. */
  allocatorState: (): AllocatorState | null => addon.allocatorState(),
  /** Returns free memory to the OS when more than `slackBytes` were freed since the last trim; whether it did. */
  trimAllocatorBeyond: (slackBytes: number): boolean => guard(() => addon.trimAllocatorBeyond(slackBytes)),
  distance: (space: SpaceName, a: Float32Array, b: Float32Array, kernel: KernelName): number =>
    guard(() => addon.distance(space, a, b, kernel)),
  buildInfo: (): BuildInfo => addon.buildInfo(),
  /** Reports a change in native memory kept alive by JS objects to V8 (main thread). */
  adjustExternalMemory: (deltaBytes: number): number => guard(() => addon.adjustExternalMemory(deltaBytes)),
};

/** Heavy calls as Promises: the work runs off the JavaScript thread. */
export const nativeAsync = {
  createSegment: (spec: SegmentSpec): Promise<SegmentHandle> =>
    guardAsync(() => addon.createSegmentAsync(spec)).then(asHandle),
  loadSegment: (path: string, capacity?: number, cancel?: Int32Array): Promise<SegmentHandle> =>
    guardAsync(() => addon.loadSegmentAsync(path, capacity, cancel)).then(asHandle),
  freeSegment: (h: SegmentHandle): Promise<void> => guardAsync(() => addon.freeSegmentAsync(h)),
  addBatch: (h: SegmentHandle, labels: Uint32Array, vectors: Float32Array, upsert: boolean, cancel?: Int32Array): Promise<void> =>
    guardAsync(() => addon.addBatchAsync(h, labels, vectors, upsert, cancel)),
  deleteBatch: (h: SegmentHandle, labels: Uint32Array): Promise<void> => guardAsync(() => addon.deleteBatchAsync(h, labels)),
  searchBatch: (
    h: SegmentHandle, queries: Float32Array, k: number, ef: number, allow: Uint32Array | null, cancel?: Int32Array,
  ): Promise<SearchOutput> => guardAsync(() => addon.searchBatchAsync(h, queries, k, ef, allow, cancel)),
  getVectors: (h: SegmentHandle, labels: Uint32Array): Promise<Float32Array> => guardAsync(() => addon.getVectorsAsync(h, labels)),
  resizeSegment: (h: SegmentHandle, capacity: number): Promise<void> => guardAsync(() => addon.resizeSegmentAsync(h, capacity)),
  saveSegment: (h: SegmentHandle, path: string, cancel?: Int32Array): Promise<void> =>
    guardAsync(() => addon.saveSegmentAsync(h, path, cancel)),
};

/** Heavy calls that block the calling thread. For pool workers, never the main thread. */
export const nativeSync = {
  createSegment: (spec: SegmentSpec): SegmentHandle => asHandle(guard(() => addon.createSegment(spec))),
  loadSegment: (path: string, capacity?: number, cancel?: Int32Array): SegmentHandle =>
    asHandle(guard(() => addon.loadSegment(path, capacity, cancel))),
  freeSegment: (h: SegmentHandle): void => guard(() => addon.freeSegment(h)),
  /** `threads` > 1: insert on that many threads at once (this one and helpers). */
  addBatch: (h: SegmentHandle, labels: Uint32Array, vectors: Float32Array, upsert: boolean, cancel?: Int32Array, threads = 1): void =>
    guard(() => addon.addBatch(h, labels, vectors, upsert, cancel, threads)),
  deleteBatch: (h: SegmentHandle, labels: Uint32Array): void => guard(() => addon.deleteBatch(h, labels)),
  /**
   * Writes into the caller's output arrays (typically SharedArrayBuffer views). `allowBits`: a
   * bitset over labels (bit l of word l >> 5) that results must be in, instead of `allow`.
   */
  searchBatchInto: (
    h: SegmentHandle, queries: Float32Array, k: number, ef: number, allow: Uint32Array | null, cancel: Cancel,
    outLabels: Uint32Array, outDistances: Float32Array, allowBits: Uint32Array | null = null,
  ): void => {
    guard(() => addon.searchBatch(h, queries, k, ef, allow, cancel, outLabels, outDistances, allowBits));
  },
  searchBatch: (h: SegmentHandle, queries: Float32Array, k: number, ef: number, allow: Uint32Array | null, cancel?: Int32Array): SearchOutput =>
    guard(() => addon.searchBatch(h, queries, k, ef, allow, cancel)) as SearchOutput,
  getVectors: (h: SegmentHandle, labels: Uint32Array): Float32Array => guard(() => addon.getVectors(h, labels)),
  resizeSegment: (h: SegmentHandle, capacity: number): void => guard(() => addon.resizeSegment(h, capacity)),
  saveSegment: (h: SegmentHandle, path: string, cancel?: Int32Array): void => guard(() => addon.saveSegment(h, path, cancel)),
};

declare const lockBrand: unique symbol;
/** A file lock this process holds (native/file_lock.h). */
export type FileLockHandle = number & { readonly [lockBrand]: true };

// Merges into Addon above (native/process_exports.cc).
interface Addon {
  lockFile(path: string): number;
  unlockFile(handle: number): void;
  probeFileLock(path: string): number;
}

/**
 * OS file locks (flock; LockFileEx on Windows): exclusive, never waiting, dropped by the kernel
 * when the holder dies. lockFile writes the holder's pid into the file for operators.
 * @throws {LockedError} when another open holds it (`details.pid`: the pid the file names, if any),
 *   {IoError} naming the path for anything else.
 */
export const nativeLock = {
  lockFile: (path: string): FileLockHandle => guard(() => addon.lockFile(path)) as FileLockHandle,
  /** Unlocks and closes; the file stays. */
  unlockFile: (handle: FileLockHandle): void => guard(() => addon.unlockFile(handle)),
  /**
   * Whether another open holds the file's lock, writing nothing (the file is opened read-only,
   * never created): null when nobody holds it or it does not exist, else the pid the file
   * names (0 when none).
   */
  probeFileLock: (path: string): number | null => {
    const pid = guard(() => addon.probeFileLock(path));
    return pid < 0 ? null : pid;
  },
};

function loadAddon(): Addon {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const require = createRequire(import.meta.url);
  const override = process.env['SHOAL_NATIVE_BINARY'];
  try {
    if (override !== undefined && override !== '') return require(override) as Addon;
    const load = require('node-gyp-build') as (dir: string) => unknown;
    return load(root) as Addon;
  } catch (cause) {
    throw new InternalError(
      [
        `shoal: no native binary loads for ${process.platform}-${process.arch} ` +
          `(Node ${process.versions.node}, Node-API ${process.versions.napi ?? '?'}).`,
        `Looked in ${root}build/Release and ${root}prebuilds/${process.platform}-${process.arch}/` +
          (override ? ` and SHOAL_NATIVE_BINARY=${override}` : '') + '.',
        'Fix: reinstall so the package\'s prebuilds/ folder is present, or build from source with',
        '`npm rebuild shoal` (needs python3, make and a C++17 compiler).',
      ].join('\n'),
      {},
      { cause },
    );
  }
}

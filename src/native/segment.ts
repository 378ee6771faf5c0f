/**
 * Segment: one native HNSW index as a typed object, for callers who want the raw index (a
 * benchmark, a single-shard embedding) without collections or a budget. Every heavy method
 * returns a Promise (bad arguments reject it too) and runs off the JavaScript thread; `*Sync`
 * twins block and are meant for worker threads. Memory is released by `free()`, not by the
 * garbage collector.
 */
import { ClosedError } from '../errors.js';
import { checkSpec, type SegmentOptions } from '../segment-spec.js';
import { checkInteger, toFloatRows, toLabels, type VectorsInput } from '../vectors.js';
import {
  native,
  nativeAsync,
  nativeSync,
  type SearchOutput,
  type SegmentHandle,
  type SegmentInfo,
  type SpaceName,
} from './binding.js';

export { checkSpec, type SegmentOptions } from '../segment-spec.js';

export interface SearchOptions {
  /** Results per query. Default 10. */
  readonly k?: number;
  /** Search breadth for this call only. Default max(k, 64). */
  readonly ef?: number;
  /** Only these labels may be returned. */
  readonly allow?: Uint32Array | readonly number[];
  /** Set element 0 to nonzero (Atomics.store) to cancel between queries. */
  readonly cancel?: Int32Array;
}

export class Segment {
  #handle: SegmentHandle | null;
  readonly dim: number;
  readonly space: SpaceName;

  private constructor(handle: SegmentHandle) {
    this.#handle = handle;
    const info = native.segmentInfo(handle);
    this.dim = info.dim;
    this.space = info.space;
  }

  /** Creates an empty segment. @throws {InvalidArgumentError} for a bad option. */
  static async create(options: SegmentOptions): Promise<Segment> {
    return new Segment(await nativeAsync.createSegment(checkSpec(options)));
  }

  /**
   * Loads a segment file written by save(). `capacity`: slots to allocate (default: the saved
   * capacity; never fewer than the slots in use). @throws {NotASegmentError}
   * {UnsupportedVersionError} {CorruptionError} {IoError}
   */
  static async load(path: string, options: { capacity?: number; cancel?: Int32Array } = {}): Promise<Segment> {
    return new Segment(await nativeAsync.loadSegment(path, options.capacity, options.cancel));
  }

  /** Wraps a handle that already exists in the registry (e.g. created on another thread). */
  static fromHandle(handle: SegmentHandle): Segment {
    return new Segment(handle);
  }

  get handle(): SegmentHandle {
    if (this.#handle === null) throw new ClosedError('segment is closed: free() was called');
    return this.#handle;
  }

  /** Exact native bytes this segment holds now. */
  get bytes(): number {
    return native.segmentBytes(this.handle);
  }

  info(): SegmentInfo {
    return native.segmentInfo(this.handle);
  }

  /**
   * Adds vectors under integer labels. @throws {AlreadyExistsError} for a present label,
   * {CapacityExceededError} when resize() is needed, {DimensionMismatchError},
   * {InvalidVectorError}, {InvalidLabelError}.
   */
  async add(labels: Uint32Array | readonly number[], vectors: VectorsInput, cancel?: Int32Array): Promise<void> {
    const [l, v] = this.#writeArgs(labels, vectors);
    return nativeAsync.addBatch(this.handle, l, v, false, cancel);
  }

  /** Adds, or replaces the vector of labels already present. */
  async upsert(labels: Uint32Array | readonly number[], vectors: VectorsInput, cancel?: Int32Array): Promise<void> {
    const [l, v] = this.#writeArgs(labels, vectors);
    return nativeAsync.addBatch(this.handle, l, v, true, cancel);
  }

  addSync(labels: Uint32Array | readonly number[], vectors: VectorsInput, upsert = false): void {
    const [l, v] = this.#writeArgs(labels, vectors);
    nativeSync.addBatch(this.handle, l, v, upsert);
  }

  /** Deletes all the labels or none. @throws {NotFoundError} */
  async delete(labels: Uint32Array | readonly number[]): Promise<void> {
    return nativeAsync.deleteBatch(this.handle, toLabels(labels, 'labels'));
  }

  /** k nearest per query, nearest first, as flat arrays (queries x k). */
  async search(queries: VectorsInput, options: SearchOptions = {}): Promise<SearchOutput> {
    const [q, k, ef, allow] = this.#searchArgs(queries, options);
    return nativeAsync.searchBatch(this.handle, q, k, ef, allow, options.cancel);
  }

  searchSync(queries: VectorsInput, options: SearchOptions = {}): SearchOutput {
    const [q, k, ef, allow] = this.#searchArgs(queries, options);
    return nativeSync.searchBatch(this.handle, q, k, ef, allow, options.cancel);
  }

  /** Stored vectors (cosine: unit length), n x dim. @throws {NotFoundError} */
  async get(labels: Uint32Array | readonly number[]): Promise<Float32Array> {
    return nativeAsync.getVectors(this.handle, toLabels(labels, 'labels'));
  }

  count(): number {
    return this.info().count;
  }

  /** Sets the number of slots. @throws {InvalidArgumentError} below the slots in use. */
  async resize(capacity: number): Promise<void> {
    return nativeAsync.resizeSegment(this.handle, checkInteger(capacity, 'capacity', 1, 0xfffffffe));
  }

  /** Writes the segment atomically (temp file, fsync, rename, fsync directory). */
  async save(path: string, cancel?: Int32Array): Promise<void> {
    return nativeAsync.saveSegment(this.handle, path, cancel);
  }

  /** Waits for calls in flight, then releases the native memory. Idempotent. */
  async free(): Promise<void> {
    const handle = this.#handle;
    if (handle === null) return;
    this.#handle = null;
    await nativeAsync.freeSegment(handle);
  }

  #writeArgs(labels: Uint32Array | readonly number[], vectors: VectorsInput): [Uint32Array, Float32Array] {
    const l = toLabels(labels, 'labels');
    return [l, toFloatRows(vectors, this.dim, 'vectors', l.length)];
  }

  #searchArgs(queries: VectorsInput, options: SearchOptions): [Float32Array, number, number, Uint32Array | null] {
    const q = toFloatRows(queries, this.dim, 'queries');
    const k = checkInteger(options.k ?? 10, 'k', 1, 1 << 20);
    const ef = checkInteger(options.ef ?? Math.max(k, 64), 'ef', 1, 1 << 20);
    const allow = options.allow === undefined ? null : toLabels(options.allow, 'allow');
    return [q, k, ef, allow];
  }
}

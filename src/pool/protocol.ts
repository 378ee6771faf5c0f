/**
 * The messages between the main thread and pool workers, declared once for both sides.
 * Segments travel as handles (the native registry is process-wide); query batches and their
 * outputs as SharedArrayBuffers, which every task of a batch reads and writes without copies.
 * Errors come back as data (WireError) and are rebuilt as ShoalError classes by the pool.
 */
import type { WireError } from '../errors.js';
import type { IdTableParts } from '../ids/id-table.js';
import type { MetadataTableParts } from '../metadata/table.js';
import type { SegmentHandle, SegmentSpec } from '../native/binding.js';

export interface SearchTask {
  readonly handle: SegmentHandle;
  readonly dim: number;
  /** nq x dim floats. */
  readonly queries: SharedArrayBuffer;
  /** This task's queries: [from, from + count). */
  readonly from: number;
  readonly count: number;
  readonly k: number;
  readonly ef: number;
  readonly allow: Uint32Array | null;
  /** A bitset over labels (bit l of word l >> 5) on a SharedArrayBuffer, instead of `allow`. */
  readonly allowBits: Uint32Array | null;
  /** nq x k results of this shard, written at [from * k, (from + count) * k). */
  readonly outLabels: SharedArrayBuffer;
  readonly outDistances: SharedArrayBuffer;
}

export interface AddTask {
  readonly handle: SegmentHandle;
  readonly labels: Uint32Array;
  readonly vectors: Float32Array;
  readonly upsert: boolean;
  /** Threads the insert runs on (the worker's and native helpers). */
  readonly threads: number;
}

export interface Tasks {
  create: { in: { readonly spec: SegmentSpec }; out: SegmentHandle };
  /**
   * A shard's files: the segment, then its id table (the segment is freed again if that
   * fails). One task, not two side by side: under load each task waits its turn behind
   * queries, and two waits cost more than the 0.7 ms they could overlap (bench/tenants.mjs at
   * 25 %: 561 against 460 q/s).
   */
  load: {
    /** metaPath: null for files written before metadata (the shard has none). */
    in: { readonly path: string; readonly idsPath: string; readonly metaPath: string | null; readonly capacity?: number };
    out: { readonly handle: SegmentHandle; readonly ids: IdTableParts; readonly meta: MetadataTableParts | null };
  };
  save: { in: { readonly handle: SegmentHandle; readonly path: string }; out: void };
  free: { in: { readonly handle: SegmentHandle }; out: void };
  add: { in: AddTask; out: void };
  delete: { in: { readonly handle: SegmentHandle; readonly labels: Uint32Array }; out: void };
  resize: { in: { readonly handle: SegmentHandle; readonly capacity: number }; out: void };
  get: { in: { readonly handle: SegmentHandle; readonly labels: Uint32Array }; out: Float32Array };
  search: { in: SearchTask; out: void };
}

export type TaskName = keyof Tasks;

/** What a worker posts back: a value, or an error as data. */
export type Reply<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: WireError };

/**
 * What a worker posts to the main thread once its module, the native addon among its imports,
 * has loaded: `{ [WORKER_LOADED]: threadId }`. The pool does not terminate a thread before it.
 */
export const WORKER_LOADED = 'shoalWorkerLoaded';

/**
 * Pool workers' V8 heaps, for db.stats(): a worker posts its heap figures to the main thread
 * after a task, at most every REPORT_EVERY_MS (piscina offers no way to ask one given thread),
 * and the pool keeps the latest per thread. Heaps are the memory the budget does not count
 * (the ledger counts native segment bytes and id tables), shown so an operator sees it.
 */
import { getHeapStatistics } from 'node:v8';

/** The message key: `{ [WORKER_HEAP]: WorkerHeap }`. */
export const WORKER_HEAP = 'shoalWorkerHeap';
export const REPORT_EVERY_MS = 250;

export interface WorkerHeap {
  readonly threadId: number;
  /** V8 heap bytes in use (live objects and garbage not yet collected). */
  readonly usedBytes: number;
  /** V8 heap bytes reserved from the OS for the heap. */
  readonly totalBytes: number;
  /** Bytes of ArrayBuffers and other memory outside the heap that V8 knows this thread keeps alive. */
  readonly externalBytes: number;
  /** When the worker read these figures (Date.now()). */
  readonly atMs: number;
}

/** Worker side: returns a function to call after each task; it posts at most every REPORT_EVERY_MS. */
export function heapReporter(threadId: number, post: (message: unknown) => void, now: () => number = Date.now): () => void {
  let last = -Infinity;
  return () => {
    const t = now();
    if (t - last < REPORT_EVERY_MS) return;
    last = t;
    const h = getHeapStatistics();
    post({ [WORKER_HEAP]: { threadId, usedBytes: h.used_heap_size, totalBytes: h.total_heap_size, externalBytes: h.external_memory, atMs: t } satisfies WorkerHeap });
  };
}

/** Main side: the latest figures per worker thread. */
export class WorkerHeaps {
  #byThread = new Map<number, WorkerHeap>();

  /** Takes a message from a worker; returns whether it was a heap report. */
  accept(message: unknown): boolean {
    if (typeof message !== 'object' || message === null || !(WORKER_HEAP in message)) return false;
    const h = (message as Record<string, WorkerHeap>)[WORKER_HEAP] as WorkerHeap;
    this.#byThread.set(h.threadId, h);
    return true;
  }

  forget(threadId: number): void {
    this.#byThread.delete(threadId);
  }

  list(): WorkerHeap[] {
    return [...this.#byThread.values()].sort((a, b) => a.threadId - b.threadId);
  }
}

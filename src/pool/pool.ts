/**
 * The worker pool: piscina threads that run native work off the event loop. Any worker can
 * serve any segment (segments are reached by handle), so tasks go to whichever thread is
 * free. Replies carrying an error are rebuilt into ShoalError classes here, inside the awaiting
 * call, so stack traces show the caller.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

import { Piscina } from 'piscina';

import { ClosedError, fromWire, InternalError } from '../errors.js';
import type { Reply, TaskName, Tasks } from './protocol.js';

/** Export names in worker.ts (`delete` is a reserved word there). */
const EXPORT: Record<TaskName, string> = {
  create: 'create',
  load: 'load',
  save: 'save',
  free: 'free',
  add: 'add',
  delete: 'remove',
  resize: 'resize',
  get: 'get',
  search: 'search',
};

/** The compiled worker: beside this file in dist/, or dist/pool/worker.js when run from src/. */
function workerFile(): string {
  const beside = new URL('./worker.js', import.meta.url);
  if (import.meta.url.endsWith('.js') && existsSync(beside)) return fileURLToPath(beside);
  const built = new URL('../../dist/pool/worker.js', import.meta.url);
  if (existsSync(built)) return fileURLToPath(built);
  throw new InternalError('shoal: dist/pool/worker.js is missing; run `npm run build` first');
}

export class Pool {
  readonly threads: number;
  #piscina: Piscina;
  #closed = false;

  constructor(threads = availableParallelism()) {
    this.threads = threads;
    this.#piscina = new Piscina({
      filename: workerFile(),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY, // a resident pool: starting a thread costs ~10 ms
      // Tasks are synchronous native calls, so a worker runs its queued tasks one after another;
      // queueing a few per worker means it starts the next without waiting a round trip to the
      // main thread (measured: +65 % single queries in flight, bench/results/collection.json notes).
      concurrentTasksPerWorker: 4,
    });
  }

  async run<K extends TaskName>(name: K, task: Tasks[K]['in']): Promise<Tasks[K]['out']> {
    if (this.#closed) throw new ClosedError('the worker pool is closed');
    const reply = (await this.#piscina.run(task, { name: EXPORT[name] })) as Reply<Tasks[K]['out']>;
    if (!reply.ok) throw fromWire(reply.error);
    return reply.value;
  }

  /** Waits for queued tasks, then stops the threads. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#piscina.close();
  }
}

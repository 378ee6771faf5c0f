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
import { WorkerHeaps, type WorkerHeap } from './heap-report.js';
import { WORKER_LOADED, type Reply, type TaskName, type Tasks } from './protocol.js';

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

/** How long close() waits for a thread that is still loading its module. */
const LOAD_WAIT_MS = 10_000;

export class Pool {
  readonly threads: number;
  #piscina: Piscina;
  #closed = false;
  /** Threads whose worker module has loaded (WORKER_LOADED), and calls waiting for more. */
  #loaded = new Set<number>();
  #loadWaiters: (() => void)[] = [];
  readonly #heaps = new WorkerHeaps();

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
      // Tasks always name their export. Preloading an existing one at start-up keeps piscina
      // from following its require() of the module with an import() (it looks for a default
      // export, which worker.ts does not have).
      name: EXPORT.search,
    });
    const wake = (): void => {
      for (const done of this.#loadWaiters.splice(0)) done();
    };
    this.#piscina.on('message', (message: unknown) => {
      if (this.#heaps.accept(message)) return;
      if (typeof message === 'object' && message !== null && WORKER_LOADED in message) {
        this.#loaded.add((message as Record<string, number>)[WORKER_LOADED] as number);
        wake();
      }
    });
    this.#piscina.on('workerDestroy', wake);
  }

  /** Each worker's V8 heap as it last reported it (after a task, at most every 250 ms). */
  workerHeaps(): WorkerHeap[] {
    return this.#heaps.list();
  }

  async run<K extends TaskName>(name: K, task: Tasks[K]['in']): Promise<Tasks[K]['out']> {
    if (this.#closed) throw new ClosedError('the worker pool is closed');
    const reply = (await this.#piscina.run(task, { name: EXPORT[name] })) as Reply<Tasks[K]['out']>;
    if (!reply.ok) throw fromWire(reply.error);
    return reply.value;
  }

  /**
   * Waits for queued tasks, then stops the threads. A thread still loading its module is
   * waited for first: terminating a thread inside require() of an ES module aborts the whole
   * process on Node 20 (V8's IsGraphAsync on a module left uninstantiated), which a close soon
   * after open hit.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#threadsLoaded();
    await this.#piscina.close();
  }

  /** Resolves once every live thread has loaded worker.js (or after LOAD_WAIT_MS). */
  async #threadsLoaded(): Promise<void> {
    const deadline = performance.now() + LOAD_WAIT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      while (!this.#piscina.threads.every((t) => this.#loaded.has(t.threadId))) {
        const left = deadline - performance.now();
        if (left <= 0) return; // a thread that cannot load (its error is the pool's): stop it anyway
        await new Promise<void>((done) => {
          this.#loadWaiters.push(done);
          clearTimeout(timer);
          timer = setTimeout(done, left);
        });
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

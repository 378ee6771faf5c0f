/**
 * Coalesces concurrent small queries on one collection into batches. A query that arrives while
 * fewer than `maxInFlight` batches run goes out at once, alone, so a lone query on an idle pool
 * keeps its latency. One that arrives while the collection already keeps the pool busy waits;
 * when a batch ends, the waiting queries of the same shape (k, ef) go out together as one batch,
 * which costs one shard entry, one scratch reservation, one task per shard and range, and one
 * merge instead of one of each per query.
 *
 * Filtered queries and large batches never wait: they are batches already.
 */

export interface QueryShape {
  readonly k: number;
  readonly ef: number;
}

/** Runs one batch of `rows` queries (flat, rows x dim) and returns one result per row. */
export type BatchRunner<R> = (queries: Float32Array, rows: number, shape: QueryShape) => Promise<R[]>;

interface Waiting<R> {
  readonly queries: Float32Array;
  readonly rows: number;
  readonly resolve: (results: R[]) => void;
  readonly reject: (err: unknown) => void;
}

/** Rows at which a call counts as a batch of its own. */
export const COALESCE_MAX_ROWS = 16;
/** Most rows one merged batch carries. */
export const MERGED_MAX_ROWS = 512;

export class QueryCoalescer<R> {
  readonly #run: BatchRunner<R>;
  readonly #dim: number;
  readonly #maxInFlight: number;
  #inFlight = 0;
  /** Waiting queries by shape, oldest shape first (Map keeps insertion order). */
  #waiting = new Map<string, { shape: QueryShape; list: Waiting<R>[]; rows: number }>();

  constructor(run: BatchRunner<R>, dim: number, maxInFlight: number) {
    this.#run = run;
    this.#dim = dim;
    this.#maxInFlight = Math.max(1, maxInFlight);
  }

  /** Batches running now (merged or not). */
  get inFlight(): number {
    return this.#inFlight;
  }

  query(queries: Float32Array, shape: QueryShape, coalescible: boolean): Promise<R[]> {
    const rows = queries.length / this.#dim;
    if (!coalescible || rows >= COALESCE_MAX_ROWS || this.#inFlight < this.#maxInFlight) return this.#dispatch(queries, rows, shape);
    return new Promise<R[]>((resolve, reject) => {
      const key = `${shape.k}/${shape.ef}`;
      let group = this.#waiting.get(key);
      if (group === undefined) {
        group = { shape, list: [], rows: 0 };
        this.#waiting.set(key, group);
      }
      group.list.push({ queries, rows, resolve, reject });
      group.rows += rows;
    });
  }

  async #dispatch(queries: Float32Array, rows: number, shape: QueryShape): Promise<R[]> {
    this.#inFlight++;
    try {
      return await this.#run(queries, rows, shape);
    } finally {
      this.#inFlight--;
      this.#next();
    }
  }

  /** Sends out the oldest waiting shape's queries as one batch (up to MERGED_MAX_ROWS rows). */
  #next(): void {
    while (this.#inFlight < this.#maxInFlight && this.#waiting.size > 0) {
      const [key, group] = this.#waiting.entries().next().value as [string, { shape: QueryShape; list: Waiting<R>[]; rows: number }];
      const taken: Waiting<R>[] = [];
      let rows = 0;
      while (group.list.length > 0 && (taken.length === 0 || rows + (group.list[0] as Waiting<R>).rows <= MERGED_MAX_ROWS)) {
        const w = group.list.shift() as Waiting<R>;
        taken.push(w);
        rows += w.rows;
      }
      group.rows -= rows;
      if (group.list.length === 0) this.#waiting.delete(key);
      const merged = new Float32Array(rows * this.#dim);
      let at = 0;
      for (const w of taken) {
        merged.set(w.queries, at * this.#dim);
        at += w.rows;
      }
      this.#dispatch(merged, rows, group.shape).then(
        (results) => {
          let from = 0;
          for (const w of taken) {
            w.resolve(results.slice(from, from + w.rows));
            from += w.rows;
          }
        },
        (err: unknown) => {
          for (const w of taken) w.reject(err);
        },
      );
    }
  }
}

/**
 * Write batches in shared memory. A write's rows reach the pool workers as views of a
 * SharedArrayBuffer, never as a structured-clone copy: such a copy stays in the receiving
 * worker's heap as garbage until that worker's next GC (an idle worker kept up to four batches,
 * 195 MiB for 100,000 x 128 rows). The buffers are few (one per pool thread) and reused, so the
 * references a worker keeps until its GC point at memory that is reused anyway; a batch larger
 * than a buffer is written in consecutive parts. One buffer holds a part's vectors and then its
 * labels.
 */

/** Rows of a flat n x dim batch: all of them in order (`rows` null) or those listed. */
export interface BatchRows {
  readonly flat: Float32Array;
  readonly dim: number;
  readonly rows: readonly number[] | null;
}

export function rowCount(b: BatchRows): number {
  return b.rows === null ? b.flat.length / b.dim : b.rows.length;
}

/** A part of a batch staged in shared memory: `count` vectors then `count` labels. */
export interface StagedPart {
  readonly vectors: Float32Array;
  readonly labels: Uint32Array;
  release(): void;
}

export class SharedBatches {
  readonly #count: number;
  /** Idle buffers, and how many exist (idle or lent). */
  #idle: SharedArrayBuffer[] = [];
  #lent = 0;
  #waiters: (() => void)[] = [];

  constructor(count: number) {
    this.#count = Math.max(1, count);
  }

  /** Bytes of the buffers held now, idle or lent. */
  get heldBytes(): number {
    return this.#idle.reduce((n, b) => n + b.byteLength, 0) + this.#lentBytes;
  }
  #lentBytes = 0;

  /**
   * Copies rows [from, from + count) of `batch` and their labels into a buffer, waiting for
   * one if all are lent. Holders never wait for anything but their pool task, so this ends.
   */
  async stage(batch: BatchRows, from: number, count: number, labels: Uint32Array): Promise<StagedPart> {
    while (this.#idle.length === 0 && this.#lent >= this.#count) await new Promise<void>((done) => this.#waiters.push(done));
    const bytes = count * (batch.dim + 1) * 4;
    let buffer = this.#idle.pop();
    if (buffer === undefined || buffer.byteLength < bytes) buffer = new SharedArrayBuffer(bytes);
    this.#lent++;
    this.#lentBytes += buffer.byteLength;
    const vectors = new Float32Array(buffer, 0, count * batch.dim);
    copyRows(batch, from, count, vectors);
    const staged = new Uint32Array(buffer, count * batch.dim * 4, count);
    staged.set(labels);
    let released = false;
    return {
      vectors,
      labels: staged,
      release: () => {
        if (released) return;
        released = true;
        this.#lent--;
        this.#lentBytes -= buffer.byteLength;
        this.#idle.push(buffer);
        this.#waiters.shift()?.();
      },
    };
  }

  /** Forgets idle buffers (maintenance): memory goes once no worker refers to them. */
  dropIdle(): void {
    this.#idle = [];
  }
}

/** Copies rows [from, from + count) of `batch` into `into` (count x dim). */
export function copyRows(batch: BatchRows, from: number, count: number, into: Float32Array): void {
  const { flat, dim, rows } = batch;
  if (rows === null) {
    into.set(flat.subarray(from * dim, (from + count) * dim));
    return;
  }
  for (let i = 0; i < count; i++) {
    const row = rows[from + i] as number;
    into.set(flat.subarray(row * dim, (row + 1) * dim), i * dim);
  }
}

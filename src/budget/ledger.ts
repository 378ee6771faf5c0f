/**
 * The ledger: how many bytes each resident shard holds and how many are reserved for
 * allocations about to happen. State only, no I/O. Its one job is the invariant
 *     accounted (resident + reserved) <= limit
 * checked on every change. reserve() refuses what does not fit (the governor plans room
 * first); settle() records what an operation really allocated, and counts any overshoot past
 * the limit (a bug in a reservation, reported by stats and asserted zero by the tests).
 */
import { InternalError } from '../errors.js';

export interface Reservation {
  readonly id: number;
  readonly bytes: number;
  readonly label: string;
}

export class Ledger {
  #limitBytes: number;
  #residents = new Map<string, number>();
  #reservations = new Map<number, Reservation>();
  #residentBytes = 0;
  #reservedBytes = 0;
  #peakBytes = 0;
  #nextId = 1;
  #overshoots = 0;
  #maxOvershootBytes = 0;

  constructor(limitBytes: number) {
    this.#limitBytes = limitBytes;
  }

  get limitBytes(): number {
    return this.#limitBytes;
  }
  get usedBytes(): number {
    return this.#residentBytes + this.#reservedBytes;
  }
  get residentBytes(): number {
    return this.#residentBytes;
  }
  get reservedBytes(): number {
    return this.#reservedBytes;
  }
  get peakBytes(): number {
    return this.#peakBytes;
  }
  /** Times settle() found more bytes than the limit allows, and the largest excess. */
  get overshoot(): { readonly count: number; readonly maxBytes: number } {
    return { count: this.#overshoots, maxBytes: this.#maxOvershootBytes };
  }

  fits(bytes: number): boolean {
    return this.usedBytes + bytes <= this.#limitBytes;
  }

  residentOf(key: string): number {
    return this.#residents.get(key) ?? 0;
  }

  /**
   * Reserves `bytes`, which must fit. With `force` (for bytes that already exist or cannot be
   * refused) a reservation that does not fit is made anyway and counted as an overshoot.
   */
  reserve(bytes: number, label: string, force = false): Reservation {
    const whole = Math.max(0, Math.ceil(bytes));
    if (!this.fits(whole)) {
      if (!force) {
        throw new InternalError(`ledger: a reservation of ${whole} bytes for ${label} does not fit (${this.usedBytes} of ${this.#limitBytes} used)`);
      }
      this.#overshoots++;
      this.#maxOvershootBytes = Math.max(this.#maxOvershootBytes, this.usedBytes + whole - this.#limitBytes);
    }
    const r = { id: this.#nextId++, bytes: whole, label };
    this.#reservations.set(r.id, r);
    this.#reservedBytes += whole;
    this.#notePeak();
    return r;
  }

  release(r: Reservation): void {
    if (this.#reservations.delete(r.id)) this.#reservedBytes -= r.bytes;
  }

  /** Sets a shard's resident bytes (0 removes it) and releases `r` in the same step. */
  settle(key: string, bytes: number, r?: Reservation): void {
    if (!(bytes >= 0)) throw new InternalError(`ledger: ${key} cannot hold ${bytes} bytes`);
    if (r !== undefined) this.release(r);
    const before = this.#residents.get(key) ?? 0;
    if (bytes > 0) this.#residents.set(key, bytes);
    else this.#residents.delete(key);
    this.#residentBytes += bytes - before;
    this.#notePeak();
    const excess = this.usedBytes - this.#limitBytes;
    if (excess > 0 && bytes > before) {
      this.#overshoots++;
      this.#maxOvershootBytes = Math.max(this.#maxOvershootBytes, excess);
    }
  }

  /** Changes the limit; refuses one below what is accounted now. */
  setLimit(limitBytes: number): void {
    if (this.usedBytes > limitBytes) {
      throw new InternalError(`ledger: cannot set the limit to ${limitBytes} below the ${this.usedBytes} bytes accounted`);
    }
    this.#limitBytes = limitBytes;
  }

  residents(): ReadonlyMap<string, number> {
    return this.#residents;
  }

  #notePeak(): void {
    this.#peakBytes = Math.max(this.#peakBytes, this.usedBytes);
  }
}

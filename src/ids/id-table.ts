/**
 * IdTable: the map between a shard's string ids and its native integer labels, in both
 * directions, stored in typed arrays only: a UTF-8 arena of id bytes, per-label offsets and
 * lengths, and an open-addressing hash index over labels. So its memory is exactly `bytes()`,
 * the byte length of those arrays, and the budget counts it like native segment memory.
 * Pure: no I/O. Labels of deleted ids are reused by later adds (the native segment reuses
 * their slots too).
 */
import { InvalidLabelError } from '../errors.js';

const EMPTY = -1;
const TOMBSTONE = -2;
const NO_ID = 0xffffffff;
/** Longest id, in UTF-8 bytes. */
export const MAX_ID_BYTES = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fnv1a(bytes: Uint8Array, length: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finaliser: spreads every input bit over the whole word. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Which of `shards` shards an id belongs to: FNV-1a of its UTF-8 bytes, mixed so that the
 * low bits (all a power-of-two shard count looks at) depend on every byte.
 */
export function shardOf(id: string, shards: number): number {
  if (shards === 1) return 0;
  const bytes = encoder.encode(id);
  return mix32(fnv1a(bytes, bytes.length)) % shards;
}

/**
 * An IdTable's state as plain typed arrays and numbers: what a pool worker that read an .ids
 * file sends back (structured clone copies the arrays; no hashing is redone).
 */
export interface IdTableParts {
  readonly arena: Uint8Array<ArrayBuffer>;
  readonly arenaUsed: number;
  readonly garbageBytes: number;
  readonly offsets: Uint32Array<ArrayBuffer>;
  readonly lengths: Uint16Array<ArrayBuffer>;
  readonly index: Int32Array<ArrayBuffer>;
  readonly indexUsed: number;
  readonly free: Uint32Array<ArrayBuffer>;
  readonly freeCount: number;
  readonly nextLabel: number;
  readonly count: number;
}

export class IdTable {
  #arena = new Uint8Array(1024);
  /** A Buffer over #arena for decoding ids, made again whenever #arena is replaced. */
  #arenaText: Buffer | null = null;
  #arenaUsed = 0;
  #garbageBytes = 0;
  #offsets = new Uint32Array(64);
  #lengths = new Uint16Array(64); // 0 with offset NO_ID: label unused
  #index = new Int32Array(128).fill(EMPTY);
  #indexUsed = 0; // live + tombstones
  #free = new Uint32Array(16);
  #freeCount = 0;
  #nextLabel = 0;
  #count = 0;
  #scratch = new Uint8Array(MAX_ID_BYTES * 3);

  constructor() {
    this.#offsets.fill(NO_ID);
  }

  get size(): number {
    return this.#count;
  }

  /** Labels 0 to labelBound - 1 have been issued (live or free). */
  get labelBound(): number {
    return this.#nextLabel;
  }

  /** Whether `label` holds a live id (no string is built). */
  hasLabel(label: number): boolean {
    const offset = this.#offsets[label];
    return offset !== undefined && offset !== NO_ID;
  }

  /** Exact bytes held: the byte length of every array above. */
  bytes(): number {
    return (
      this.#arena.byteLength + this.#offsets.byteLength + this.#lengths.byteLength + this.#index.byteLength +
      this.#free.byteLength + this.#scratch.byteLength
    );
  }

  /**
   * Exactly what bytes() will be after adding `count` ids of `idBytes` UTF-8 bytes in all
   * (deletes aside): the arrays grow by the same doubling rules add() follows. Lets the budget
   * reserve an add's id-table growth before it happens.
   */
  bytesAfterAdding(count: number, idBytes: number): number {
    return IdTable.predictBytes(
      { arena: this.#arena.length, arenaUsed: this.#arenaUsed, labels: this.#offsets.length, index: this.#index.length, indexUsed: this.#indexUsed, free: this.#free.length },
      { size: this.#count, nextLabel: this.#nextLabel, freeCount: this.#freeCount },
      count,
      idBytes,
    );
  }

  /**
   * An upper bound of bytes() for a table deserialised from a file of `count` ids holding
   * `idBytes` UTF-8 bytes under labels below `nextLabel`: every array at most doubles past
   * what it needs.
   */
  static bytesWhenLoaded(count: number, nextLabel: number, idBytes: number): number {
    const arena = Math.max(1024, 2 * idBytes);
    const labels = Math.max(64, 2 * nextLabel);
    const index = Math.max(128, 4 * (count + 1));
    const free = Math.max(16, 2 * (nextLabel - count));
    return arena + labels * 6 + index * 4 + free * 4 + MAX_ID_BYTES * 3;
  }

  private static predictBytes(
    caps: { arena: number; arenaUsed: number; labels: number; index: number; indexUsed: number; free: number },
    state: { size: number; nextLabel: number; freeCount: number },
    count: number,
    idBytes: number,
  ): number {
    let arena = caps.arena;
    const arenaNeeded = caps.arenaUsed + idBytes;
    while (arena < arenaNeeded) arena *= 2; // add() doubles one id at a time
    const newLabels = Math.max(0, count - state.freeCount);
    let labels = caps.labels;
    while (labels < state.nextLabel + newLabels) labels *= 2;
    let index = caps.index;
    let used = caps.indexUsed;
    let live = state.size;
    for (let i = 0; i < count; i++) {
      if ((used + 1) * 4 > index * 3) {
        if (live + 1 > index / 2) index *= 2;
        used = live;
      }
      used++;
      live++;
    }
    return arena + labels * 6 + index * 4 + caps.free * 4 + MAX_ID_BYTES * 3;
  }

  /** The label of `id`, or undefined. */
  labelOf(id: string): number | undefined {
    const n = this.#encode(id);
    const slot = this.#find(n, fnv1a(this.#scratch, n));
    return slot < 0 ? undefined : (this.#index[slot] as number);
  }

  has(id: string): boolean {
    return this.labelOf(id) !== undefined;
  }

  /** The id of `label`, or undefined. */
  idOf(label: number): string | undefined {
    const offset = this.#offsets[label];
    if (offset === undefined || offset === NO_ID) return undefined;
    // Buffer#toString decodes in place: no view object per id (a query with k = 10,000 maps
    // 10,000 labels per row).
    const arena = this.#arena;
    let text = this.#arenaText;
    if (text === null || text.buffer !== arena.buffer || text.byteOffset !== arena.byteOffset || text.length !== arena.length) {
      text = this.#arenaText = Buffer.from(arena.buffer, arena.byteOffset, arena.byteLength);
    }
    return text.toString('utf8', offset, offset + (this.#lengths[label] as number));
  }

  /** Which label the next add() will use: the most recently freed one, else a new one. */
  peekLabels(count: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      out.push(i < this.#freeCount ? (this.#free[this.#freeCount - 1 - i] as number) : this.#nextLabel + i - this.#freeCount);
    }
    return out;
  }

  /** Adds `id` (which must be absent) and returns its label. */
  add(id: string): number {
    const n = this.#encode(id);
    const hash = fnv1a(this.#scratch, n);
    if (this.#find(n, hash) >= 0) throw new InvalidLabelError(`ids: ${JSON.stringify(id)} is already present`);
    const label = this.#freeCount > 0 ? (this.#free[--this.#freeCount] as number) : this.#nextLabel++;
    this.#placeLabel(label, n);
    this.#insertIndex(label, hash);
    this.#count++;
    return label;
  }

  /** Removes `id`; returns its label, or undefined if absent. */
  delete(id: string): number | undefined {
    const n = this.#encode(id);
    const slot = this.#find(n, fnv1a(this.#scratch, n));
    if (slot < 0) return undefined;
    const label = this.#index[slot] as number;
    this.#index[slot] = TOMBSTONE;
    this.#garbageBytes += this.#lengths[label] as number;
    this.#offsets[label] = NO_ID;
    this.#lengths[label] = 0;
    this.#pushFree(label);
    this.#count--;
    if (this.#garbageBytes > 4096 && this.#garbageBytes > this.#arenaUsed / 2) this.#compact();
    return label;
  }

  /** Live (id, label) pairs, in label order. */
  *entries(): IterableIterator<[string, number]> {
    for (let label = 0; label < this.#nextLabel; label++) {
      const id = this.idOf(label);
      if (id !== undefined) yield [id, label];
    }
  }

  /**
   * Serialises live entries and the free-label stack (for the shard's .ids file):
   * count u32, nextLabel u32, count x (label u32, length u16, UTF-8 bytes), freeCount u32,
   * freeCount x label u32 (bottom of the stack first).
   */
  serialize(): Uint8Array {
    let total = 12 + 4 * this.#freeCount;
    for (let label = 0; label < this.#nextLabel; label++) {
      if (this.#offsets[label] !== NO_ID) total += 6 + (this.#lengths[label] as number);
    }
    const out = new Uint8Array(total);
    const view = new DataView(out.buffer);
    view.setUint32(0, this.#count, true);
    view.setUint32(4, this.#nextLabel, true);
    let at = 8;
    for (let label = 0; label < this.#nextLabel; label++) {
      const offset = this.#offsets[label] as number;
      if (offset === NO_ID) continue;
      const length = this.#lengths[label] as number;
      view.setUint32(at, label, true);
      view.setUint16(at + 4, length, true);
      out.set(this.#arena.subarray(offset, offset + length), at + 6);
      at += 6 + length;
    }
    view.setUint32(at, this.#freeCount, true);
    for (let i = 0; i < this.#freeCount; i++) view.setUint32(at + 4 + 4 * i, this.#free[i] as number, true);
    return out;
  }

  /**
   * Rebuilds a table from serialize()'s bytes. Throws InvalidLabelError on malformed input.
   * Arrays are sized once from the header, and ids are hashed and stored as the bytes they
   * already are: loading a shard does no per-id string work.
   */
  static deserialize(bytes: Uint8Array): IdTable {
    const table = new IdTable();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < 12) throw new InvalidLabelError('ids file: too short');
    const count = view.getUint32(0, true);
    const nextLabel = view.getUint32(4, true);
    // Each live id takes at least 6 bytes and each free label 4: a header claiming more labels
    // than the file could hold is damage, not a reason to allocate.
    if (count * 6 + 12 > bytes.byteLength || nextLabel - count > (bytes.byteLength - 12) / 4 || nextLabel < count) {
      throw new InvalidLabelError('ids file: counts exceed the file');
    }
    table.#ensureLabels(nextLabel);
    const idBytes = bytes.byteLength - 12 - 6 * count - 4 * (nextLabel - count);
    const arena = new Uint8Array(Math.max(1024, idBytes));
    table.#arena = arena;
    let index = table.#index.length;
    while (index < 2 * (count + 1)) index *= 2; // at most half full: no rehash while loading
    table.#index = new Int32Array(index).fill(EMPTY);
    const offsets = table.#offsets;
    const lengths = table.#lengths;
    let at = 8;
    let used = 0;
    // One pass per id, no allocation: copy its bytes into the arena while hashing them, then
    // probe the index against the arena copy (a duplicate id is damage).
    for (let i = 0; i < count; i++) {
      if (at + 6 > bytes.byteLength) throw new InvalidLabelError('ids file: entry runs past the end');
      const label = view.getUint32(at, true);
      const length = view.getUint16(at + 4, true);
      if (label >= nextLabel || at + 6 + length > bytes.byteLength || used + length > arena.length) {
        throw new InvalidLabelError('ids file: entry out of range');
      }
      if (length > MAX_ID_BYTES) throw new InvalidLabelError(`ids file: an id is longer than ${MAX_ID_BYTES} bytes`);
      if (offsets[label] !== NO_ID) throw new InvalidLabelError(`ids file: label ${label} appears twice`);
      let hash = 0x811c9dc5;
      for (let j = 0, from = at + 6; j < length; j++) {
        const b = bytes[from + j] as number;
        arena[used + j] = b;
        hash = Math.imul(hash ^ b, 0x01000193);
      }
      hash >>>= 0;
      if (table.#findIn(arena, used, length, hash) >= 0) {
        throw new InvalidLabelError(`ids file: ${JSON.stringify(decoder.decode(arena.subarray(used, used + length)))} appears twice`);
      }
      offsets[label] = used;
      lengths[label] = length;
      used += length;
      table.#insertIndex(label, hash);
      at += 6 + length;
    }
    table.#arenaUsed = used;
    table.#count = count;
    if (at + 4 > bytes.byteLength) throw new InvalidLabelError('ids file: free list missing');
    const freeCount = view.getUint32(at, true);
    at += 4;
    if (at + 4 * freeCount > bytes.byteLength) throw new InvalidLabelError('ids file: free list runs past the end');
    if (at + 4 * freeCount < bytes.byteLength) throw new InvalidLabelError('ids file: trailing bytes');
    // Every label below nextLabel is either live or free, exactly once.
    if (count + freeCount !== nextLabel) throw new InvalidLabelError('ids file: label counts do not add up');
    for (let i = 0; i < freeCount; i++) {
      const label = view.getUint32(at + 4 * i, true);
      if (label >= nextLabel || table.#offsets[label] !== NO_ID) throw new InvalidLabelError(`ids file: free label ${label} is invalid`);
      table.#offsets[label] = NO_ID - 1; // marks "seen free" until the loop ends
      table.#pushFree(label);
    }
    for (let i = 0; i < freeCount; i++) table.#offsets[table.#free[i] as number] = NO_ID;
    table.#nextLabel = nextLabel;
    return table;
  }

  /** The table's state, for another thread (see IdTableParts). The table must not be used after. */
  toParts(): IdTableParts {
    return {
      arena: this.#arena,
      arenaUsed: this.#arenaUsed,
      garbageBytes: this.#garbageBytes,
      offsets: this.#offsets,
      lengths: this.#lengths,
      index: this.#index,
      indexUsed: this.#indexUsed,
      free: this.#free,
      freeCount: this.#freeCount,
      nextLabel: this.#nextLabel,
      count: this.#count,
    };
  }

  /** The table toParts() described, in this thread. The parts come from our own worker. */
  static fromParts(parts: IdTableParts): IdTable {
    const table = new IdTable();
    table.#arena = parts.arena;
    table.#arenaUsed = parts.arenaUsed;
    table.#garbageBytes = parts.garbageBytes;
    table.#offsets = parts.offsets;
    table.#lengths = parts.lengths;
    table.#index = parts.index;
    table.#indexUsed = parts.indexUsed;
    table.#free = parts.free;
    table.#freeCount = parts.freeCount;
    table.#nextLabel = parts.nextLabel;
    table.#count = parts.count;
    return table;
  }

  #encode(id: string): number {
    // String.prototype.isWellFormed is in Node 20 (V8 11.3); lib ES2023's types predate it.
    if (!(id as string & { isWellFormed(): boolean }).isWellFormed()) {
      throw new InvalidLabelError(`ids: ${JSON.stringify(id.slice(0, 40))} is not well-formed Unicode (a lone surrogate cannot be stored exactly)`);
    }
    const { read, written } = encoder.encodeInto(id, this.#scratch);
    if (read !== id.length || written > MAX_ID_BYTES) {
      throw new InvalidLabelError(`ids: an id may be at most ${MAX_ID_BYTES} bytes of UTF-8, got ${JSON.stringify(id.slice(0, 40))}…`);
    }
    return written;
  }

  /** Index slot holding the label whose id is in #scratch[0, n), or -1. */
  #find(n: number, hash: number): number {
    return this.#findIn(this.#scratch, 0, n, hash);
  }

  /** Index slot holding the label whose id is `source[start, start + n)`, or -1. */
  #findIn(source: Uint8Array, start: number, n: number, hash: number): number {
    const mask = this.#index.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const label = this.#index[slot] as number;
      if (label === EMPTY) return -1;
      if (label !== TOMBSTONE && this.#equals(label, source, start, n)) return slot;
    }
  }

  #equals(label: number, source: Uint8Array, start: number, n: number): boolean {
    if (this.#lengths[label] !== n) return false;
    const offset = this.#offsets[label] as number;
    for (let i = 0; i < n; i++) if (this.#arena[offset + i] !== source[start + i]) return false;
    return true;
  }

  #insertIndex(label: number, hash: number): void {
    // Keep at most 3/4 of slots used (live + tombstones) and at most half live.
    if ((this.#indexUsed + 1) * 4 > this.#index.length * 3) {
      this.#rehash(this.#count + 1 > this.#index.length / 2 ? this.#index.length * 2 : this.#index.length);
    }
    const mask = this.#index.length - 1;
    let slot = hash & mask;
    while ((this.#index[slot] as number) >= 0) slot = (slot + 1) & mask;
    if (this.#index[slot] === EMPTY) this.#indexUsed++;
    this.#index[slot] = label;
  }

  #rehash(size: number): void {
    const old = this.#index;
    this.#index = new Int32Array(size).fill(EMPTY);
    this.#indexUsed = 0;
    const mask = size - 1;
    for (const label of old) {
      if (label < 0) continue;
      const offset = this.#offsets[label] as number;
      let slot = fnv1a(this.#arena.subarray(offset), this.#lengths[label] as number) & mask;
      while (this.#index[slot] !== EMPTY) slot = (slot + 1) & mask;
      this.#index[slot] = label;
      this.#indexUsed++;
    }
  }

  #placeLabel(label: number, n: number): void {
    this.#ensureLabels(label + 1);
    if (this.#arenaUsed + n > this.#arena.length) {
      const grown = new Uint8Array(Math.max(this.#arena.length * 2, this.#arenaUsed + n));
      grown.set(this.#arena.subarray(0, this.#arenaUsed));
      this.#arena = grown;
    }
    this.#arena.set(this.#scratch.subarray(0, n), this.#arenaUsed);
    this.#offsets[label] = this.#arenaUsed;
    this.#lengths[label] = n;
    this.#arenaUsed += n;
  }

  #ensureLabels(count: number): void {
    if (count <= this.#offsets.length) return;
    let size = this.#offsets.length * 2;
    while (size < count) size *= 2;
    const offsets = new Uint32Array(size).fill(NO_ID);
    offsets.set(this.#offsets);
    const lengths = new Uint16Array(size);
    lengths.set(this.#lengths);
    this.#offsets = offsets;
    this.#lengths = lengths;
  }

  #pushFree(label: number): void {
    if (this.#freeCount === this.#free.length) {
      const grown = new Uint32Array(this.#free.length * 2);
      grown.set(this.#free);
      this.#free = grown;
    }
    this.#free[this.#freeCount++] = label;
  }

  #compact(): void {
    const arena = new Uint8Array(Math.max(1024, this.#arenaUsed - this.#garbageBytes));
    let used = 0;
    for (let label = 0; label < this.#nextLabel; label++) {
      const offset = this.#offsets[label] as number;
      if (offset === NO_ID) continue;
      const length = this.#lengths[label] as number;
      arena.set(this.#arena.subarray(offset, offset + length), used);
      this.#offsets[label] = used;
      used += length;
    }
    this.#arena = arena;
    this.#arenaUsed = used;
    this.#garbageBytes = 0;
  }
}

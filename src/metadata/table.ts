/**
 * MetadataTable: one shard's metadata, by native label, stored in columns of typed arrays.
 * Pure: no I/O.
 *
 * Columnar because filtering is the hot path: a `where` leaf is one pass over one column's
 * typed array (an equality on a string is an integer compare against a dictionary code), so a
 * 100,000-record shard is filtered in well under a millisecond without decoding any record.
 * Typed arrays only (like IdTable), so `bytes()` is exact and the budget counts it with the
 * shard. Per field (column):
 *   kind  u8 per label   0 absent, 1 string, 2 number, 3 true, 4 false, 5 list of strings
 *   num   f64 per label  the number (allocated once a number appears)
 *   ref   u32 per label  a string's dictionary code, or a list's offset in `lists`
 *   dict  IdTable        each distinct string once, code = its label; `refs` counts its uses
 *   lists u32 arena      [length, code, code, ...] per list value
 * A column whose last value goes is dropped. Cost: about 1 byte per label per field that any
 * record of the shard has, plus 8 (numbers) or 4 (strings) where used, plus the dictionary.
 */
import { IdTable, type IdTableParts } from '../ids/id-table.js';
import type { Metadata, MetadataValue } from './values.js';

export const ABSENT = 0;
export const STRING = 1;
export const NUMBER = 2;
export const TRUE = 3;
export const FALSE = 4;
export const LIST = 5;

const encoder = new TextEncoder();

/** A column's state as plain typed arrays (what a pool worker sends back after reading a file). */
export interface ColumnParts {
  readonly name: string;
  readonly kind: Uint8Array<ArrayBuffer>;
  readonly num: Float64Array<ArrayBuffer> | null;
  readonly ref: Uint32Array<ArrayBuffer> | null;
  readonly dict: IdTableParts;
  readonly refs: Uint32Array<ArrayBuffer>;
  readonly lists: Uint32Array<ArrayBuffer>;
  readonly listsUsed: number;
  readonly listsGarbage: number;
  readonly live: number;
}

export class Column {
  readonly name: string;
  kind: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  num: Float64Array<ArrayBuffer> | null = null;
  ref: Uint32Array<ArrayBuffer> | null = null;
  dict = new IdTable();
  refs: Uint32Array<ArrayBuffer> = new Uint32Array(16);
  lists: Uint32Array<ArrayBuffer> = new Uint32Array(0);
  listsUsed = 0;
  listsGarbage = 0;
  /** Labels holding a value. */
  live = 0;

  constructor(name: string) {
    this.name = name;
  }

  bytes(): number {
    return (
      this.kind.byteLength + (this.num?.byteLength ?? 0) + (this.ref?.byteLength ?? 0) + this.dict.bytes() +
      this.refs.byteLength + this.lists.byteLength + encoder.encode(this.name).length
    );
  }

  put(label: number, v: MetadataValue): void {
    this.#ensure(label + 1);
    if (typeof v === 'number') {
      this.num ??= new Float64Array(this.kind.length);
      this.num[label] = v;
      this.kind[label] = NUMBER;
    } else if (typeof v === 'boolean') {
      this.kind[label] = v ? TRUE : FALSE;
    } else if (typeof v === 'string') {
      this.ref ??= new Uint32Array(this.kind.length);
      this.ref[label] = this.#intern(v);
      this.kind[label] = STRING;
    } else {
      this.ref ??= new Uint32Array(this.kind.length);
      this.ref[label] = this.#appendList(v.map((s) => this.#intern(s)));
      this.kind[label] = LIST;
    }
    this.live++;
  }

  /** Removes the label's value, if any. */
  clear(label: number): void {
    const k = this.kind[label];
    if (k === undefined || k === ABSENT) return;
    if (k === STRING) this.#release((this.ref as Uint32Array)[label] as number);
    else if (k === LIST) {
      const at = (this.ref as Uint32Array)[label] as number;
      const n = this.lists[at] as number;
      for (let i = 1; i <= n; i++) this.#release(this.lists[at + i] as number);
      this.listsGarbage += n + 1;
      this.kind[label] = ABSENT;
      if (this.listsGarbage > 1024 && this.listsGarbage > this.listsUsed / 2) this.#compactLists();
    }
    this.kind[label] = ABSENT;
    this.live--;
  }

  value(label: number): MetadataValue | undefined {
    switch (this.kind[label]) {
      case NUMBER:
        return (this.num as Float64Array)[label] as number;
      case TRUE:
        return true;
      case FALSE:
        return false;
      case STRING:
        return this.dict.idOf((this.ref as Uint32Array)[label] as number) as string;
      case LIST: {
        const at = (this.ref as Uint32Array)[label] as number;
        const out: string[] = [];
        for (let i = 1, n = this.lists[at] as number; i <= n; i++) out.push(this.dict.idOf(this.lists[at + i] as number) as string);
        return out;
      }
      default:
        return undefined;
    }
  }

  /** The list value at `label` (kind LIST): its codes. */
  listCodes(label: number): Uint32Array {
    const at = (this.ref as Uint32Array)[label] as number;
    return this.lists.subarray(at + 1, at + 1 + (this.lists[at] as number));
  }

  toParts(): ColumnParts {
    return {
      name: this.name, kind: this.kind, num: this.num, ref: this.ref, dict: this.dict.toParts(), refs: this.refs,
      lists: this.lists, listsUsed: this.listsUsed, listsGarbage: this.listsGarbage, live: this.live,
    };
  }

  static fromParts(p: ColumnParts): Column {
    const c = new Column(p.name);
    c.kind = p.kind;
    c.num = p.num;
    c.ref = p.ref;
    c.dict = IdTable.fromParts(p.dict);
    c.refs = p.refs;
    c.lists = p.lists;
    c.listsUsed = p.listsUsed;
    c.listsGarbage = p.listsGarbage;
    c.live = p.live;
    return c;
  }

  #ensure(labels: number): void {
    if (labels <= this.kind.length) return;
    let size = Math.max(64, this.kind.length);
    while (size < labels) size *= 2;
    const kind = new Uint8Array(size);
    kind.set(this.kind);
    this.kind = kind;
    if (this.num !== null) {
      const num = new Float64Array(size);
      num.set(this.num);
      this.num = num;
    }
    if (this.ref !== null) {
      const ref = new Uint32Array(size);
      ref.set(this.ref);
      this.ref = ref;
    }
  }

  #intern(s: string): number {
    let code = this.dict.labelOf(s);
    if (code === undefined) code = this.dict.add(s);
    if (code >= this.refs.length) {
      const grown = new Uint32Array(Math.max(this.refs.length * 2, code + 1));
      grown.set(this.refs);
      this.refs = grown;
    }
    this.refs[code] = (this.refs[code] as number) + 1;
    return code;
  }

  #release(code: number): void {
    const left = (this.refs[code] as number) - 1;
    this.refs[code] = left;
    if (left === 0) this.dict.delete(this.dict.idOf(code) as string);
  }

  #appendList(codes: readonly number[]): number {
    const need = this.listsUsed + codes.length + 1;
    if (need > this.lists.length) {
      let size = Math.max(64, this.lists.length);
      while (size < need) size *= 2;
      const grown = new Uint32Array(size);
      grown.set(this.lists.subarray(0, this.listsUsed));
      this.lists = grown;
    }
    const at = this.listsUsed;
    this.lists[at] = codes.length;
    this.lists.set(codes, at + 1);
    this.listsUsed = need;
    return at;
  }

  #compactLists(): void {
    const ref = this.ref as Uint32Array;
    const out = new Uint32Array(Math.max(64, this.listsUsed - this.listsGarbage));
    let used = 0;
    for (let label = 0; label < this.kind.length; label++) {
      if (this.kind[label] !== LIST) continue;
      const at = ref[label] as number;
      const n = (this.lists[at] as number) + 1;
      out.set(this.lists.subarray(at, at + n), used);
      ref[label] = used;
      used += n;
    }
    this.lists = out;
    this.listsUsed = used;
    this.listsGarbage = 0;
  }
}

export interface MetadataTableParts {
  readonly columns: readonly ColumnParts[];
}

export class MetadataTable {
  #columns = new Map<string, Column>();
  /** Bumped by every change: lets callers tell whether a result computed earlier still holds. */
  version = 0;

  get fieldCount(): number {
    return this.#columns.size;
  }

  column(name: string): Column | undefined {
    return this.#columns.get(name);
  }

  columns(): IterableIterator<Column> {
    return this.#columns.values();
  }

  /** Exact bytes held: the byte length of every array, and the field names. */
  bytes(): number {
    let sum = 0;
    for (const c of this.#columns.values()) sum += c.bytes();
    return sum;
  }

  /**
   * An upper bound of the bytes setting these records' metadata under labels below `labelLimit`
   * adds, column by column: per-label arrays grown (or first allocated) to cover the labels,
   * each string counted as new to its dictionary (IdTable's own exact prediction), the counts
   * and list arenas grown to hold them. Replaced values are not subtracted.
   */
  growthBound(metadatas: readonly Metadata[], labelLimit: number): number {
    const perField = new Map<string, { strings: number; stringBytes: number; listWords: number; numbers: boolean; refs: boolean }>();
    for (const m of metadatas) {
      for (const [key, v] of Object.entries(m)) {
        let f = perField.get(key);
        if (f === undefined) {
          f = { strings: 0, stringBytes: 0, listWords: 0, numbers: false, refs: false };
          perField.set(key, f);
        }
        if (typeof v === 'number') f.numbers = true;
        else if (typeof v === 'string') {
          f.refs = true;
          f.strings++;
          f.stringBytes += 3 * v.length; // UTF-8 bytes at most, without encoding
        } else if (Array.isArray(v)) {
          f.refs = true;
          f.listWords += v.length + 1;
          for (const x of v as string[]) {
            f.strings++;
            f.stringBytes += 3 * x.length;
          }
        }
      }
    }
    let bytes = 0;
    for (const [key, f] of perField) {
      const c = this.#columns.get(key) ?? new Column(key);
      if (!this.#columns.has(key)) bytes += c.bytes();
      let size = Math.max(64, c.kind.length);
      while (size < labelLimit) size *= 2;
      const grows = size > c.kind.length;
      bytes += grows ? size : 0;
      if (c.num !== null ? grows : f.numbers) bytes += 8 * size;
      if (c.ref !== null ? grows : f.refs) bytes += 4 * size;
      if (f.strings > 0) {
        bytes += c.dict.bytesAfterAdding(f.strings, f.stringBytes) - c.dict.bytes();
        const codes = c.dict.labelBound + f.strings;
        if (codes > c.refs.length) bytes += 8 * codes;
      }
      if (c.listsUsed + f.listWords > c.lists.length) bytes += 8 * Math.max(64, c.listsUsed + f.listWords);
    }
    return bytes;
  }

  /** Replaces the label's metadata (an empty object: none). */
  set(label: number, m: Metadata): void {
    this.clear(label);
    for (const [key, v] of Object.entries(m)) {
      let c = this.#columns.get(key);
      if (c === undefined) {
        c = new Column(key);
        this.#columns.set(key, c);
      }
      c.put(label, v);
    }
  }

  /** Removes the label's metadata. */
  clear(label: number): void {
    this.version++;
    for (const [key, c] of this.#columns) {
      c.clear(label);
      if (c.live === 0) this.#columns.delete(key);
    }
  }

  /** The label's metadata ({} when it has none), keys in field order. */
  get(label: number): Record<string, MetadataValue> {
    const out: Record<string, MetadataValue> = {};
    for (const c of this.#columns.values()) {
      const v = c.value(label);
      if (v !== undefined) out[c.name] = v;
    }
    return out;
  }

  toParts(): MetadataTableParts {
    return { columns: [...this.#columns.values()].map((c) => c.toParts()) };
  }

  static fromParts(parts: MetadataTableParts): MetadataTable {
    const t = new MetadataTable();
    for (const p of parts.columns) t.#columns.set(p.name, Column.fromParts(p));
    return t;
  }
}

/**
 * The `where` filter language (Chroma's operators) compiled once per call, then evaluated
 * against a shard's MetadataTable, either for every label at once (a bitset, for the search)
 * or for one label (to re-check a result). Pure: no I/O.
 *
 *   { field: value }                       equality (value: string, number or boolean)
 *   { field: { $eq|$ne: value } }
 *   { field: { $gt|$gte|$lt|$lte: number } }
 *   { field: { $in|$nin: [value, ...] } }
 *   { $and: [where, ...] }, { $or: [where, ...] }
 * Several fields in one object, or several operators on one field, must all hold ($and).
 * `{}` matches every record. Values match only values of the same type (5 never equals "5").
 * A field holding an array of strings equals a string it contains ($eq, $in), and $ne / $nin
 * hold when it contains none of them. $ne and $nin also hold for records without the field.
 */
import { InvalidFilterError } from '../errors.js';
import { describe } from '../vectors.js';
import { ABSENT, type Column, FALSE, LIST, type MetadataTable, NUMBER, STRING, TRUE } from './table.js';
import { storableString } from './values.js';

type Scalar = string | number | boolean;
type Cmp = '$gt' | '$gte' | '$lt' | '$lte';

interface Group {
  readonly op: 'and' | 'or';
  readonly children: readonly Node[];
}
type Leaf =
  | { readonly op: 'in'; readonly field: string; readonly values: readonly Scalar[]; readonly negate: boolean }
  | { readonly op: 'range'; readonly field: string; readonly cmp: Cmp; readonly value: number };
type Node = Group | Leaf;

const isGroup = (node: Node): node is Group => node.op === 'and' || node.op === 'or';

const COMPARISONS = new Set(['$gt', '$gte', '$lt', '$lte']);
const OPERATORS = '$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin';

/** Matches one column's label. */
type Matcher = (c: Column, label: number) => boolean;

export class CompiledWhere {
  readonly #root: Node;

  private constructor(root: Node) {
    this.#root = root;
  }

  /**
   * Compiles a `where` object. @throws {InvalidFilterError} naming the part that is wrong and
   * what was expected there.
   */
  static compile(where: unknown): CompiledWhere {
    return new CompiledWhere(parse(where, 'where'));
  }

  /**
   * The labels that match, as a bitset (bit l of word l >> 5) as long as `live`, restricted to
   * the labels `live` holds. Returns the bitset and how many bits are set.
   */
  bits(table: MetadataTable, live: Uint32Array): { words: Uint32Array; count: number } {
    const words = evaluate(this.#root, table, live.length * 32);
    let count = 0;
    for (let w = 0; w < words.length; w++) {
      const word = ((words[w] as number) & (live[w] as number)) >>> 0;
      words[w] = word;
      if (word !== 0) count += popcount(word);
    }
    return { words, count };
  }

  /** Whether `label`'s metadata matches. */
  test(table: MetadataTable, label: number): boolean {
    return testNode(this.#root, table, label);
  }
}

/** Set bits of a 32-bit word. */
export function popcount(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

// ---- parsing ------------------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

function parse(where: unknown, path: string): Node {
  if (!isPlainObject(where)) throw bad(path, `must be an object such as { field: value } or { $and: [...] }, got ${describe(where)}`);
  const parts: Node[] = [];
  for (const [key, value] of Object.entries(where)) {
    const at = `${path}.${key}`;
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) throw bad(at, `must be a non-empty array of where objects, got ${describe(value)}`);
      parts.push({ op: key === '$and' ? 'and' : 'or', children: value.map((w, i) => parse(w, `${at}[${i}]`)) });
    } else if (key.startsWith('$')) {
      throw bad(at, `${JSON.stringify(key)} is not allowed here: expected a field name, $and or $or`);
    } else if (isPlainObject(value)) {
      const ops = Object.entries(value);
      if (ops.length === 0) throw bad(at, `must name an operator (${OPERATORS})`);
      for (const [op, operand] of ops) parts.push(parseOperator(key, op, operand, `${at}.${op}`));
    } else {
      parts.push({ op: 'in', field: key, values: [scalar(value, at)], negate: false });
    }
  }
  return parts.length === 1 ? (parts[0] as Node) : { op: 'and', children: parts };
}

function parseOperator(field: string, op: string, operand: unknown, at: string): Node {
  switch (op) {
    case '$eq':
    case '$ne':
      return { op: 'in', field, values: [scalar(operand, at)], negate: op === '$ne' };
    case '$in':
    case '$nin':
      if (!Array.isArray(operand) || operand.length === 0) throw bad(at, `must be a non-empty array of strings, numbers or booleans, got ${describe(operand)}`);
      return { op: 'in', field, values: operand.map((v, i) => scalar(v, `${at}[${i}]`)), negate: op === '$nin' };
    default:
      if (COMPARISONS.has(op)) {
        if (typeof operand !== 'number' || !Number.isFinite(operand)) throw bad(at, `must be a finite number, got ${describe(operand)}`);
        return { op: 'range', field, cmp: op as Cmp, value: operand };
      }
      throw bad(at, `unknown operator ${JSON.stringify(op)}: expected one of ${OPERATORS}`);
  }
}

function scalar(v: unknown, at: string): Scalar {
  if (typeof v === 'string') {
    if (!storableString(v)) throw bad(at, 'strings must be well-formed Unicode of at most 1024 UTF-8 bytes');
    return v;
  }
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return v === 0 ? 0 : v;
  throw bad(at, `must be a string, a finite number or a boolean, got ${describe(v)}`);
}

function bad(path: string, what: string): InvalidFilterError {
  return new InvalidFilterError(`${path}: ${what}`, { path });
}

// ---- evaluation ----------------------------------------------------------------------------------

/** One column's matcher for a leaf, or null when no label can match (the field or string is unknown). */
function matcher(node: Leaf, c: Column): Matcher | null {
  if (node.op === 'range') {
    const v = node.value;
    const num = c.num;
    if (num === null) return null;
    switch (node.cmp) {
      case '$gt':
        return (col, l) => col.kind[l] === NUMBER && (num[l] as number) > v;
      case '$gte':
        return (col, l) => col.kind[l] === NUMBER && (num[l] as number) >= v;
      case '$lt':
        return (col, l) => col.kind[l] === NUMBER && (num[l] as number) < v;
      default:
        return (col, l) => col.kind[l] === NUMBER && (num[l] as number) <= v;
    }
  }
  const codes = new Set<number>();
  const numbers = new Set<number>();
  let wantTrue = false;
  let wantFalse = false;
  for (const v of node.values) {
    if (typeof v === 'string') {
      const code = c.dict.labelOf(v);
      if (code !== undefined) codes.add(code);
    } else if (typeof v === 'number') numbers.add(v);
    else if (v) wantTrue = true;
    else wantFalse = true;
  }
  if (codes.size === 0 && numbers.size === 0 && !wantTrue && !wantFalse) return null;
  const ref = c.ref;
  const num = c.num;
  if (codes.size === 1 && numbers.size === 0 && !wantTrue && !wantFalse) {
    const code = codes.values().next().value as number;
    return (col, l) => {
      const k = col.kind[l];
      if (k === STRING) return (ref as Uint32Array)[l] === code;
      return k === LIST && col.listCodes(l).includes(code);
    };
  }
  return (col, l) => {
    switch (col.kind[l]) {
      case STRING:
        return codes.has((ref as Uint32Array)[l] as number);
      case NUMBER:
        return numbers.has((num as Float64Array)[l] as number);
      case TRUE:
        return wantTrue;
      case FALSE:
        return wantFalse;
      case LIST:
        for (const code of col.listCodes(l)) if (codes.has(code)) return true;
        return false;
      default:
        return false;
    }
  };
}

function evaluate(node: Node, table: MetadataTable, limit: number): Uint32Array {
  const words = new Uint32Array(Math.ceil(limit / 32));
  if (isGroup(node)) {
    if (node.children.length === 0) return words.fill(0xffffffff); // {}: every record
    const [first, ...rest] = node.children.map((child) => evaluate(child, table, limit));
    const out = first as Uint32Array;
    for (const other of rest) {
      if (node.op === 'and') for (let w = 0; w < out.length; w++) out[w] = ((out[w] as number) & (other[w] as number)) >>> 0;
      else for (let w = 0; w < out.length; w++) out[w] = ((out[w] as number) | (other[w] as number)) >>> 0;
    }
    return out;
  }
  const c = table.column(node.field);
  const match = c === undefined ? null : matcher(node, c);
  if (c !== undefined && match !== null) {
    const end = Math.min(limit, c.kind.length);
    const kind = c.kind;
    for (let l = 0; l < end; l++) {
      if (kind[l] !== ABSENT && match(c, l)) words[l >>> 5] = ((words[l >>> 5] as number) | (1 << (l & 31))) >>> 0;
    }
  }
  if (node.op === 'in' && node.negate) {
    for (let w = 0; w < words.length; w++) words[w] = ~(words[w] as number) >>> 0;
  }
  return words;
}

function testNode(node: Node, table: MetadataTable, label: number): boolean {
  if (isGroup(node)) return node.op === 'and' ? node.children.every((child) => testNode(child, table, label)) : node.children.some((child) => testNode(child, table, label));
  const c = table.column(node.field);
  const match = c === undefined ? null : matcher(node, c);
  const hit = c !== undefined && match !== null && c.kind[label] !== undefined && c.kind[label] !== ABSENT && match(c, label);
  return node.op === 'in' && node.negate ? !hit : hit;
}

/** A bitset of the labels `ids` holds (bit l of word l >> 5). */
export function liveBits(ids: { readonly labelBound: number; hasLabel(label: number): boolean }): Uint32Array {
  const limit = ids.labelBound;
  const words = new Uint32Array(Math.ceil(limit / 32));
  for (let l = 0; l < limit; l++) if (ids.hasLabel(l)) words[l >>> 5] = ((words[l >>> 5] as number) | (1 << (l & 31))) >>> 0;
  return words;
}

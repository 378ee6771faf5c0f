// Metadata values, the where language and the columnar table with its file format, checked
// against a plain-object model: every filter result must equal the model's evaluation.
import { describe, expect, it } from 'vitest';

import { CorruptionError, InvalidFilterError, InvalidMetadataError } from '../../../src/errors.js';
import { IdTable } from '../../../src/ids/id-table.js';
import { META_FILE_HEAD_BYTES, decodeMetaFile, encodeMetaFile, metaFileLoadBytes, readMetaTable } from '../../../src/metadata/file.js';
import { MetadataTable } from '../../../src/metadata/table.js';
import { checkMetadata, checkMetadatas, type Metadata } from '../../../src/metadata/values.js';
import { CompiledWhere, liveBits } from '../../../src/metadata/where.js';
import { rng } from '../../support/data.js';

describe('checkMetadata', () => {
  it('accepts strings, finite numbers, booleans and string arrays, copying them; -0 becomes 0', () => {
    const tags = ['a', 'b'];
    const m = checkMetadata({ s: 'x', n: -0, f: 1.5, b: true, tags }, 'id', 0);
    tags.push('c');
    expect(m).toEqual({ s: 'x', n: 0, f: 1.5, b: true, tags: ['a', 'b'] });
    expect(Object.is(m['n'], 0)).toBe(true);
    expect(checkMetadata(null, 'id', 0)).toEqual({});
  });

  it.each([
    [{ x: NaN }, 'x', 'finite'],
    [{ x: Infinity }, 'x', 'finite'],
    [{ x: { y: 1 } }, 'x', 'must be a string'],
    [{ x: [1] }, 'x', 'strings only'],
    [{ x: null }, 'x', 'must be a string'],
    [{ $x: 1 }, '$x', "not start with '$'"],
    [{ x: 'a'.repeat(1025) }, 'x', 'at most 1024'],
    [{ x: '\ud800' }, 'x', 'well-formed'],
  ])('refuses %j naming the id and key %s', (value, key, what) => {
    let err: unknown;
    try {
      checkMetadata(value, 'doc-7', 3);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidMetadataError);
    const e = err as InvalidMetadataError;
    expect(e.code).toBe('SHOAL_INVALID_METADATA');
    expect(e.message).toContain('"doc-7"');
    expect(e.message).toContain(what);
    expect(e.details).toMatchObject({ row: 3, id: 'doc-7', key });
  });

  it('refuses non-plain objects and a metadatas list of the wrong length', () => {
    expect(() => checkMetadata(new Map(), 'a', 0)).toThrow(InvalidMetadataError);
    expect(() => checkMetadata([1], 'a', 0)).toThrow(/plain object/);
    expect(() => checkMetadatas([{}], ['a', 'b'])).toThrow(/array of 2 objects/);
    expect(checkMetadatas(undefined, ['a'])).toBeNull();
  });
});

describe('CompiledWhere.compile', () => {
  it.each([
    [null, 'where: must be an object'],
    [{ x: { $gt: '5' } }, 'where.x.$gt: must be a finite number'],
    [{ x: { $foo: 1 } }, 'unknown operator "$foo"'],
    [{ x: { $in: [] } }, 'where.x.$in: must be a non-empty array'],
    [{ $and: {} }, 'where.$and: must be a non-empty array'],
    [{ $or: [{ x: 1 }, 5] }, 'where.$or[1]: must be an object'],
    [{ $not: { x: 1 } }, 'expected a field name, $and or $or'],
    [{ x: [1, 2] }, 'where.x: must be a string, a finite number or a boolean'],
    [{ x: {} }, 'must name an operator'],
  ])('refuses %j saying what was expected', (where, message) => {
    expect(() => CompiledWhere.compile(where)).toThrow(InvalidFilterError);
    expect(() => CompiledWhere.compile(where)).toThrow(message);
  });
});

/** The where language on a plain object: what the compiled filters must agree with. */
function modelMatch(where: Record<string, unknown>, m: Metadata): boolean {
  return Object.entries(where).every(([key, value]) => {
    if (key === '$and') return (value as Record<string, unknown>[]).every((w) => modelMatch(w, m));
    if (key === '$or') return (value as Record<string, unknown>[]).some((w) => modelMatch(w, m));
    const v = m[key];
    const eq = (x: unknown): boolean => (Array.isArray(v) ? typeof x === 'string' && v.includes(x) : v === x);
    const ops = typeof value === 'object' && value !== null ? Object.entries(value) : [['$eq', value]];
    return ops.every(([op, x]) => {
      switch (op) {
        case '$eq':
          return eq(x);
        case '$ne':
          return !eq(x);
        case '$in':
          return (x as unknown[]).some(eq);
        case '$nin':
          return !(x as unknown[]).some(eq);
        case '$gt':
          return typeof v === 'number' && v > (x as number);
        case '$gte':
          return typeof v === 'number' && v >= (x as number);
        case '$lt':
          return typeof v === 'number' && v < (x as number);
        default:
          return typeof v === 'number' && v <= (x as number);
      }
    });
  });
}

const WHERES: Record<string, unknown>[] = [
  {},
  { color: 'red' },
  { color: { $ne: 'red' } },
  { size: 3 },
  { size: { $gt: 2 } },
  { size: { $gte: 2, $lt: 5 } },
  { size: { $lte: 1 } },
  { ok: true },
  { ok: { $ne: false } },
  { tags: 't1' },
  { tags: { $nin: ['t1', 't2'] } },
  { color: { $in: ['red', 'blue', 'nope'] } },
  { color: { $nin: ['red'] }, ok: true },
  { $or: [{ color: 'red' }, { size: { $gt: 4 } }] },
  { $and: [{ tags: { $in: ['t0', 'nope'] } }, { $or: [{ ok: false }, { size: 3 }] }] },
  { size: '3' },
  { missing: { $ne: 1 } },
  { missing: 1 },
  { color: 3 },
];

function randomMeta(next: () => number): Metadata {
  const m: Record<string, string | number | boolean | string[]> = {};
  if (next() < 0.8) m['color'] = ['red', 'blue', 'green'][Math.floor(next() * 3)] as string;
  if (next() < 0.8) m['size'] = next() < 0.1 ? '3' : Math.floor(next() * 7);
  if (next() < 0.7) m['ok'] = next() < 0.5;
  if (next() < 0.6) m['tags'] = Array.from({ length: Math.floor(next() * 3) }, () => `t${Math.floor(next() * 4)}`);
  return m;
}

describe('MetadataTable with compiled filters', () => {
  it('agrees with the model on every filter through sets, replacements, clears and a file round trip', () => {
    const next = rng(11);
    const ids = new IdTable();
    const table = new MetadataTable();
    const model = new Map<number, Metadata>();
    for (let step = 0; step < 3000; step++) {
      const id = `r${Math.floor(next() * 400)}`;
      const label = ids.labelOf(id);
      if (label !== undefined && next() < 0.3) {
        ids.delete(id);
        table.clear(label);
        model.delete(label);
      } else {
        const l = label ?? ids.add(id);
        const m = randomMeta(next);
        table.set(l, m);
        model.set(l, m);
      }
    }
    const file = encodeMetaFile(table);
    const copy = readMetaTable(file, 'x.meta');
    // What the budget reserves before a load covers what the loaded table holds.
    expect(copy.bytes()).toBeLessThanOrEqual(metaFileLoadBytes(file.subarray(0, META_FILE_HEAD_BYTES), file.length, 'x.meta'));
    for (const t of [table, copy]) {
      for (const [label, m] of model) expect(t.get(label)).toEqual(m);
      const live = liveBits(ids);
      for (const where of WHERES) {
        const compiled = CompiledWhere.compile(where);
        const { words, count } = compiled.bits(t, live);
        const expected = [...model].filter(([, m]) => modelMatch(where, m)).map(([l]) => l).sort((a, b) => a - b);
        const got: number[] = [];
        words.forEach((w, i) => {
          for (let b = 0; b < 32; b++) if ((w >>> b) & 1) got.push(i * 32 + b);
        });
        expect(got, JSON.stringify(where)).toEqual(expected);
        expect(count).toBe(expected.length);
        for (const [label] of model) expect(compiled.test(t, label)).toBe(expected.includes(label));
      }
    }
  });

  it('frees a field once no record holds it, and a string once no record uses it', () => {
    const table = new MetadataTable();
    table.set(0, { a: 'x', b: 1 });
    table.set(1, { a: 'x' });
    const two = table.bytes();
    table.clear(0);
    expect(table.fieldCount).toBe(1);
    expect(table.bytes()).toBeLessThan(two);
    table.set(1, { a: 'y' });
    expect(table.column('a')?.dict.size).toBe(1);
    table.clear(1);
    expect(table.fieldCount).toBe(0);
    expect(table.bytes()).toBe(0);
  });

  it('reserves at least what a batch adds (growthBound covers bytes())', () => {
    const next = rng(5);
    const table = new MetadataTable();
    let labels = 0;
    for (let batch = 0; batch < 40; batch++) {
      const metas = Array.from({ length: 1 + Math.floor(next() * 300) }, () => randomMeta(next));
      const before = table.bytes();
      const bound = table.growthBound(metas, labels + metas.length);
      for (const m of metas) table.set(labels++, m);
      expect(table.bytes() - before).toBeLessThanOrEqual(bound);
    }
  });
});

describe('the .meta file', () => {
  it('refuses damaged bytes with CorruptionError', () => {
    const table = new MetadataTable();
    table.set(0, { a: 'x', tags: ['p', 'q'], n: 2 });
    const bytes = encodeMetaFile(table);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 3] = (flipped[flipped.length - 3] as number) ^ 1;
    expect(() => decodeMetaFile(flipped, 'f.meta')).toThrow(CorruptionError);
    expect(() => decodeMetaFile(bytes.subarray(0, bytes.length - 4), 'f.meta')).toThrow(CorruptionError);
    expect(() => decodeMetaFile(Buffer.from('nope'), 'f.meta')).toThrow(/not a shoal metadata file/);
  });
});

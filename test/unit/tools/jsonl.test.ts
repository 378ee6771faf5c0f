// The export format's pieces alone: float32 text that reads back to the same bits, the header
// check, and line-numbered errors for bad records.
import { Readable } from 'node:stream';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { InvalidArgumentError } from '../../../src/errors.js';
import { encodeRecordLine, formatFloat32, parseHeader, readExport } from '../../../src/tools/jsonl.js';

const header = (over: Record<string, unknown> = {}): string =>
  JSON.stringify({ format: 'shoal-collection', version: 1, name: 'c', dim: 2, space: 'l2', M: 16, efConstruction: 200, efSearch: 64, shards: 1, count: 0, exportedAtMs: 0, ...over });

/** Significant digits of a decimal's text: "0.00120" and "1.2e-3" both have 2. */
function significantDigits(text: string): number {
  const mantissa = text.replace(/^-/, '').split('e')[0] as string;
  return mantissa.replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;
}

/** The fewest significant digits with which some decimal reads back as the float32 x (brute force). */
function fewestDigits(x: number): number {
  for (let p = 1; p <= 9; p++) if (Math.fround(Number(x.toPrecision(p))) === x) return significantDigits(x.toPrecision(p));
  return 9;
}

describe('formatFloat32', () => {
  it('reads back as the same float32 for any finite bit pattern, -0 included, with the fewest digits that do', () => {
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (pattern) => {
        bits[0] = pattern;
        const x = f[0] as number;
        if (!Number.isFinite(x)) return;
        const text = formatFloat32(x);
        const back = new Float32Array([JSON.parse(text) as number]);
        expect(new Uint32Array(back.buffer)[0]).toBe(pattern);
        expect(significantDigits(text)).toBe(fewestDigits(x));
      }),
      { numRuns: 20_000 },
    );
  });

  it('is the shortest such decimal', () => {
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1');
    expect(formatFloat32(0.5)).toBe('0.5');
    expect(formatFloat32(-3)).toBe('-3');
    expect(formatFloat32(Math.fround(1 / 3))).toBe('0.33333334');
    expect(formatFloat32(Math.fround(3.4028234663852886e38))).toBe('3.4028235e+38');
    expect(formatFloat32(-0)).toBe('-0');
    // String() of the same double needs 17 digits.
    expect(String(Math.fround(0.1))).toBe('0.10000000149011612');
  });
});

describe('reading an export', () => {
  it('yields bounded batches with metadata passed through, skipping blank lines', async () => {
    const lines = [header(), '{"id":"a","vector":[1,2]}', '', '{"id":"b","vector":[3,4],"metadata":{"k":"v"}}', encodeRecordLine('c', new Float32Array([5, 6]))];
    const { header: h, batches } = await readExport(Readable.from([lines.join('\n')]), 2);
    expect(h.dim).toBe(2);
    const got = [];
    for await (const b of batches) got.push({ ids: b.ids, vectors: Array.from(b.vectors), metadatas: b.metadatas, firstLine: b.firstLine });
    expect(got).toEqual([
      { ids: ['a', 'b'], vectors: [1, 2, 3, 4], metadatas: [undefined, { k: 'v' }], firstLine: 2 },
      { ids: ['c'], vectors: [5, 6], metadatas: [undefined], firstLine: 5 },
    ]);
  });

  it.each([
    ['', /line 1: the input is empty/],
    ['{"format":"other"}', /line 1: expected a header record/],
    [header({ version: 2 }), /line 1: format version 2 is not supported/],
    [header({ dim: 0 }), /line 1: header dim: must be a positive integer/],
    [header({ space: 'hamming' }), /line 1: header space/],
  ])('refuses the header %j', async (text, message) => {
    await expect(readExport(Readable.from([text]), 10)).rejects.toThrow(message);
  });

  it.each([
    ['{"id":"a","vector":[1]}', /line 3: vector of "a": must be an array of 2 numbers, got 1 entries/],
    ['{"id":"","vector":[1,2]}', /line 3: id: must be a non-empty string/],
    ['{"id":"a","vector":[1,"x"]}', /line 3: vector of "a"\[1\]: must be a finite number/],
    ['{"id":"a","vector":[1,2],"metadata":[1]}', /line 3: metadata of "a": must be an object/],
    ['{"id":"a",', /line 3: not JSON/],
  ])('names the line of a bad record %j', async (bad, message) => {
    const { batches } = await readExport(Readable.from([`${header()}\n{"id":"ok","vector":[0,0]}\n${bad}\n`]), 10);
    const err = await (async () => {
      for await (const _ of batches) void _;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(message);
    expect((err as InvalidArgumentError).details['line']).toBe(3);
  });

  it('parseHeader keeps fields it does not know (newer writers may add some)', () => {
    expect(parseHeader(header({ extra: true })).dim).toBe(2);
  });
});

// Bad input never crashes and never changes anything: each case checks the error's class, its
// code, and that the segment still holds and answers exactly what it did before.
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  AlreadyExistsError,
  ClosedError,
  CorruptionError,
  DimensionMismatchError,
  InvalidArgumentError,
  InvalidLabelError,
  InvalidVectorError,
  NotASegmentError,
  NotFoundError,
  ShoalError,
  UnsupportedVersionError,
  fromWire,
  toWire,
} from '../../src/errors.js';
import { native, nativeAsync, nativeSync } from '../../src/native/binding.js';
import { Segment } from '../../src/native/segment.js';
import { crc32c } from '../support/crc32c.js';
import { randomVectors, range } from '../support/data.js';

const DIM = 8;
let dir = '';
let seg: Segment;
let goodFile = '';
const probe = randomVectors(5, DIM, 99);

async function snapshot(s: Segment): Promise<unknown> {
  const out = await s.search(probe, { k: 5, ef: 32 });
  return { info: { ...s.info(), peakBytes: 0, concurrentSearchesPeak: 0 }, labels: Array.from(out.labels), d: Array.from(out.distances) };
}

async function expectRejected(
  call: () => Promise<unknown> | unknown,
  kind: new (...args: never[]) => ShoalError,
  code: string,
): Promise<ShoalError> {
  const before = await snapshot(seg);
  let caught: unknown;
  try {
    await call();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(kind);
  expect((caught as ShoalError).code).toBe(code);
  expect(await snapshot(seg)).toEqual(before);
  return caught as ShoalError;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shoal-err-'));
  seg = await Segment.create({ dim: DIM, space: 'cosine', capacity: 100 });
  await seg.add(range(50), randomVectors(50, DIM, 1));
  await seg.delete([7]);
  goodFile = join(dir, 'good.seg');
  await seg.save(goodFile);
});
afterAll(async () => {
  await seg.free();
  expect(native.liveSegments()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

describe('bad vectors', () => {
  it('wrong dimension, from rows and from a flat array', async () => {
    const e = await expectRejected(() => seg.add([60], [[1, 2, 3]]), DimensionMismatchError, 'SHOAL_DIMENSION_MISMATCH');
    expect(e.message).toBe('vectors[0]: vector has 3 dimensions, expected 8');
    expect(e.details).toMatchObject({ expected: 8, actual: 3 });
    await expectRejected(() => seg.search(new Float32Array(DIM + 1)), DimensionMismatchError, 'SHOAL_DIMENSION_MISMATCH');
    // The addon checks too, for callers that bypass the TypeScript layer.
    await expectRejected(
      () => nativeAsync.addBatch(seg.handle, new Uint32Array([60, 61]), new Float32Array(DIM), false),
      DimensionMismatchError,
      'SHOAL_DIMENSION_MISMATCH',
    );
  });

  it.each([NaN, Infinity, -Infinity])('%s in a vector or a query', async (bad) => {
    const v = randomVectors(3, DIM, 2);
    v[DIM + 4] = bad;
    const e = await expectRejected(() => seg.add([60, 61, 62], v), InvalidVectorError, 'SHOAL_INVALID_VECTOR');
    expect(e.details).toMatchObject({ row: 1, column: 4 });
    await expectRejected(() => seg.search(v), InvalidVectorError, 'SHOAL_INVALID_VECTOR');
    // Native check, bypassing TypeScript: the whole batch is refused, none of it added.
    await expectRejected(
      () => nativeAsync.addBatch(seg.handle, new Uint32Array([60, 61, 62]), v, false),
      InvalidVectorError,
      'SHOAL_INVALID_VECTOR',
    );
  });

  it('a zero vector in cosine space', async () => {
    await expectRejected(() => seg.add([60], new Float32Array(DIM)), InvalidVectorError, 'SHOAL_INVALID_VECTOR');
  });
});

describe('bad numbers', () => {
  it.each([0, -1, 1.5, NaN])('k = %s', async (k) => {
    const e = await expectRejected(() => seg.search(probe, { k }), InvalidArgumentError, 'SHOAL_INVALID_ARGUMENT');
    expect(e.message).toMatch(/^k: must be an integer from 1/);
  });

  it('k = 0 through the addon directly', async () => {
    await expectRejected(() => nativeAsync.searchBatch(seg.handle, probe, 0, 10, null), InvalidArgumentError, 'SHOAL_INVALID_ARGUMENT');
  });

  it.each([[-1], [1.5], [2 ** 32], [NaN]])('label %s', async (label) => {
    await expectRejected(() => seg.add([label], randomVectors(1, DIM, 3)), InvalidLabelError, 'SHOAL_INVALID_LABEL');
  });

  it('a label twice in one call', async () => {
    await expectRejected(() => seg.add([70, 70], randomVectors(2, DIM, 3)), InvalidLabelError, 'SHOAL_INVALID_LABEL');
    await expectRejected(() => seg.delete([3, 3]), InvalidLabelError, 'SHOAL_INVALID_LABEL');
  });

  it('a label array of the wrong type reaching the addon', async () => {
    await expectRejected(
      () => nativeAsync.addBatch(seg.handle, new Float64Array([1]) as unknown as Uint32Array, randomVectors(1, DIM, 3), false),
      InvalidArgumentError,
      'SHOAL_INVALID_ARGUMENT',
    );
  });
});

describe('labels that exist or do not', () => {
  it('adding a present label, even among new ones', async () => {
    const e = await expectRejected(() => seg.add([80, 5], randomVectors(2, DIM, 4)), AlreadyExistsError, 'SHOAL_ALREADY_EXISTS');
    expect(e.details).toMatchObject({ row: 1, label: 5 });
  });

  it('deleting or getting an unknown or deleted label', async () => {
    await expectRejected(() => seg.delete([1, 999]), NotFoundError, 'SHOAL_NOT_FOUND');
    await expectRejected(() => seg.delete([7]), NotFoundError, 'SHOAL_NOT_FOUND');
    await expectRejected(() => seg.get([2, 999]), NotFoundError, 'SHOAL_NOT_FOUND');
  });

  it('resizing below the slots in use', async () => {
    await expectRejected(() => seg.resize(10), InvalidArgumentError, 'SHOAL_INVALID_ARGUMENT');
  });
});

describe('bad files', () => {
  const baseline = (): number => native.totalBytes();

  async function expectLoadFails(bytes: Buffer, kind: new (...args: never[]) => ShoalError, code: string): Promise<ShoalError> {
    const path = join(dir, `bad-${Math.random().toString(36).slice(2)}.seg`);
    writeFileSync(path, bytes);
    const before = baseline();
    const liveBefore = native.liveSegments();
    const err = await expectRejected(() => Segment.load(path), kind, code);
    expect(native.totalBytes()).toBe(before);
    expect(native.liveSegments()).toBe(liveBefore);
    return err;
  }

  it('a file that is not a segment', async () => {
    await expectLoadFails(Buffer.from('{"hello": "world"} and more text to pass 128 bytes'.repeat(4)), NotASegmentError, 'SHOAL_NOT_A_SEGMENT');
    await expectLoadFails(Buffer.alloc(0), NotASegmentError, 'SHOAL_NOT_A_SEGMENT');
  });

  it('a truncated file, in the header or in the payload', async () => {
    const good = readFileSync(goodFile);
    await expectLoadFails(good.subarray(0, 60), CorruptionError, 'SHOAL_CORRUPT');
    const e = await expectLoadFails(good.subarray(0, good.length - 9), CorruptionError, 'SHOAL_CORRUPT');
    expect(e.message).toMatch(/truncated/);
    expect(e.details).toMatchObject({ expectedBytes: good.length, actualBytes: good.length - 9 });
  });

  it('a flipped bit anywhere in the payload fails the checksum', async () => {
    const good = readFileSync(goodFile);
    for (const offset of [128, 500, good.length - 1]) {
      const bad = Buffer.from(good);
      bad[offset] = (bad[offset] as number) ^ 0x10;
      const e = await expectLoadFails(bad, CorruptionError, 'SHOAL_CORRUPT');
      expect(e.message).toMatch(/checksum/);
    }
  });

  it('a flipped bit in the header fails the header checksum', async () => {
    const bad = Buffer.from(readFileSync(goodFile));
    bad[20] = (bad[20] as number) ^ 0x01; // inside dim
    const e = await expectLoadFails(bad, CorruptionError, 'SHOAL_CORRUPT');
    expect(e.message).toMatch(/header checksum/);
  });

  describe('damage that a checksum does not catch (the file is re-signed after the change)', () => {
    // The layout of docs/file-format.md: a 128-byte header, then layer-0 slots of
    // S = 4 + 8M + 4 dim + 8 bytes, then one i32 level per slot, then the upper lists.
    function forge(change: (file: Buffer, at: { slot: (i: number) => number; slots: number; m: number; dim: number; levels: number }) => void): Buffer {
      const file = Buffer.from(readFileSync(goodFile));
      const dim = file.readUInt32LE(16);
      const m = file.readUInt32LE(24);
      const slots = Number(file.readBigUInt64LE(32));
      const slotBytes = 4 + 8 * m + 4 * dim + 8;
      change(file, { slot: (i) => 128 + i * slotBytes, slots, m, dim, levels: 128 + slots * slotBytes });
      file.writeUInt32LE(crc32c(file.subarray(128)), 72);
      file.writeUInt32LE(crc32c(file.subarray(0, 124)), 124);
      return file;
    }
    const labelAt = (m: number, dim: number): number => 4 + 8 * m + 4 * dim;

    it.each<[string, Parameters<typeof forge>[0], RegExp]>([
      ['a layer-0 link past the last element', (f, { slot, slots }) => f.writeUInt32LE(slots + 5, slot(3) + 4), /link points past the last element/],
      ['a layer-0 neighbour count above 2M', (f, { slot, m }) => f.writeUInt16LE(2 * m + 1, slot(0)), /neighbour list is too long/],
      ['the same label on two elements', (f, { slot, m, dim }) => f.writeBigUInt64LE(f.readBigUInt64LE(slot(1) + labelAt(m, dim)), slot(2) + labelAt(m, dim)), /label appears twice/],
      ['a label outside the label range', (f, { slot, m, dim }) => f.writeBigUInt64LE(2n ** 40n, slot(4) + labelAt(m, dim)), /label is out of range/],
      ['a deleted flag the header does not count', (f, { slot }) => f.writeUInt8((f.readUInt8(slot(9) + 2) | 1), slot(9) + 2), /deleted count/],
      ['an element level above the top layer', (f, { levels }) => f.writeInt32LE(99, levels + 4 * 6), /level is out of range|upper-layer lists/],
      ['an entry point past the last element', (f, { slots }) => f.writeUInt32LE(slots + 1, 60), /entry point is out of range/],
    ])('%s', async (_name, change, message) => {
      const e = await expectLoadFails(forge(change), CorruptionError, 'SHOAL_CORRUPT');
      expect(e.message).toMatch(message);
      expect(e.message).not.toMatch(/checksum/);
    });

    it('an unchanged re-signed file still loads (the forging itself is faithful)', async () => {
      const path = join(dir, 'resigned.seg');
      writeFileSync(path, forge(() => undefined));
      const loaded = await Segment.load(path);
      try {
        const [a, b] = await Promise.all([loaded.search(probe, { k: 5, ef: 32 }), seg.search(probe, { k: 5, ef: 32 })]);
        expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
        expect(loaded.info()).toMatchObject({ count: seg.info().count, deletedCount: seg.info().deletedCount });
      } finally {
        await loaded.free();
      }
    });
  });

  it('a format version this build does not read', async () => {
    const bad = Buffer.from(readFileSync(goodFile));
    bad.writeUInt32LE(99, 8);
    const e = await expectLoadFails(bad, UnsupportedVersionError, 'SHOAL_UNSUPPORTED_VERSION');
    expect(e.details).toMatchObject({ version: 99, supported: 1 });
  });

  it('a missing file', async () => {
    await expectRejected(() => Segment.load(join(dir, 'nope.seg')), ShoalError, 'SHOAL_IO');
  });
});

describe('freed handles', () => {
  it('every operation on a freed handle throws ClosedError, on both paths', async () => {
    const other = await Segment.create({ dim: DIM, capacity: 10 });
    const handle = other.handle;
    await other.free();
    await other.free(); // idempotent
    expect(() => other.handle).toThrow(ClosedError);
    expect(() => native.segmentInfo(handle)).toThrow(ClosedError);
    expect(() => nativeSync.searchBatch(handle, probe, 1, 10, null)).toThrow(ClosedError);
    await expect(nativeAsync.addBatch(handle, new Uint32Array([1]), probe.subarray(0, DIM), false)).rejects.toBeInstanceOf(ClosedError);
    await expect(nativeAsync.freeSegment(handle)).rejects.toMatchObject({ code: 'SHOAL_CLOSED' });
    expect(await snapshot(seg)).toBeTruthy();
  });
});

describe('the error wire format', () => {
  it('round-trips every class across threads as plain data', () => {
    const samples: ShoalError[] = [
      new InvalidArgumentError('k: bad'),
      new DimensionMismatchError('v: bad', { expected: 8, actual: 3 }),
      new InvalidVectorError('v: NaN', { row: 1, column: 2 }),
      new InvalidLabelError('l: bad'),
      new AlreadyExistsError('dup', { label: 3 }),
      new NotFoundError('missing'),
      new NotASegmentError('magic'),
      new UnsupportedVersionError('v9'),
      new CorruptionError('crc'),
      new ClosedError('closed'),
    ];
    for (const err of samples) {
      const back = fromWire(structuredClone(toWire(err)));
      expect(back).toBeInstanceOf(err.constructor);
      expect(back).toMatchObject({ code: err.code, message: err.message, details: err.details, name: err.constructor.name });
    }
  });
});

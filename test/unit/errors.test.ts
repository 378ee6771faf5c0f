// The error classes, and how errors cross threads and the native boundary.
import { describe, expect, expectTypeOf, it } from 'vitest';

import {
  AbortError,
  AlreadyExistsError,
  BudgetExceededError,
  CapacityExceededError,
  ClosedError,
  CorruptionError,
  DimensionMismatchError,
  InternalError,
  InvalidArgumentError,
  InvalidLabelError,
  InvalidMetadataError,
  InvalidFilterError,
  InvalidVectorError,
  IoError,
  LockedError,
  NotASegmentError,
  NotFoundError,
  OutOfMemoryError,
  ShoalError,
  UnsupportedVersionError,
  fromNative,
  fromWire,
  registerErrorCode,
  toWire,
  type ErrorCode,
  type ErrorDetails,
  type WireError,
} from '../../src/errors.js';

type Subclass = new (message: string, details?: ErrorDetails) => ShoalError;

/** Every concrete class, its code, and the class it extends. */
const CLASSES: [string, Subclass, ErrorCode, abstract new (...args: never[]) => ShoalError][] = [
  ['InvalidArgumentError', InvalidArgumentError, 'SHOAL_INVALID_ARGUMENT', ShoalError],
  ['DimensionMismatchError', DimensionMismatchError, 'SHOAL_DIMENSION_MISMATCH', InvalidArgumentError],
  ['InvalidVectorError', InvalidVectorError, 'SHOAL_INVALID_VECTOR', InvalidArgumentError],
  ['InvalidLabelError', InvalidLabelError, 'SHOAL_INVALID_LABEL', InvalidArgumentError],
  ['InvalidMetadataError', InvalidMetadataError, 'SHOAL_INVALID_METADATA', InvalidArgumentError],
  ['InvalidFilterError', InvalidFilterError, 'SHOAL_INVALID_FILTER', InvalidArgumentError],
  ['AlreadyExistsError', AlreadyExistsError, 'SHOAL_ALREADY_EXISTS', ShoalError],
  ['NotFoundError', NotFoundError, 'SHOAL_NOT_FOUND', ShoalError],
  ['CapacityExceededError', CapacityExceededError, 'SHOAL_CAPACITY_EXCEEDED', ShoalError],
  ['CorruptionError', CorruptionError, 'SHOAL_CORRUPT', ShoalError],
  ['NotASegmentError', NotASegmentError, 'SHOAL_NOT_A_SEGMENT', CorruptionError],
  ['UnsupportedVersionError', UnsupportedVersionError, 'SHOAL_UNSUPPORTED_VERSION', CorruptionError],
  ['ClosedError', ClosedError, 'SHOAL_CLOSED', ShoalError],
  ['AbortError', AbortError, 'SHOAL_ABORTED', ShoalError],
  ['IoError', IoError, 'SHOAL_IO', ShoalError],
  ['OutOfMemoryError', OutOfMemoryError, 'SHOAL_OUT_OF_MEMORY', ShoalError],
  ['LockedError', LockedError, 'SHOAL_LOCKED', ShoalError],
  ['InternalError', InternalError, 'SHOAL_INTERNAL', ShoalError],
];

describe('error classes', () => {
  it.each(CLASSES)('%s has its class name as a non-enumerable name, its code and its details', (name, Class, code, Parent) => {
    const details = { row: 3, file: '/x', list: [1, 2] };
    const err = new Class('something: went wrong', details);
    expect(err.name).toBe(name);
    expect(err.name).toBe(Class.name);
    expect(Object.getOwnPropertyDescriptor(err, 'name')?.enumerable).toBe(false);
    expect(Object.keys(err)).not.toContain('name');
    expect(err.code).toBe(code);
    expect(err.details).toEqual(details);
    expect(err.message).toBe('something: went wrong');
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(ShoalError);
    expect(err).toBeInstanceOf(Parent);
    expect(err).toBeInstanceOf(Class);
    expect(String(err)).toBe(`${name}: something: went wrong`);
    expect(err.stack).toContain(name);
  });

  it.each(CLASSES)('%s defaults its details to an empty object', (_, Class) => {
    expect(new Class('m').details).toEqual({});
  });

  it('gives ShoalError itself the name ShoalError and the code it is given', () => {
    const err = new ShoalError('SHOAL_BUDGET_EXCEEDED', 'over budget', { bytes: 10 });
    expect(err.name).toBe('ShoalError');
    expect(err.code).toBe('SHOAL_BUDGET_EXCEEDED');
    expect(err.details).toEqual({ bytes: 10 });
  });

  it('names a subclass defined outside errors.ts after that subclass', () => {
    class BudgetExceededError extends ShoalError {
      constructor(message: string) {
        super('SHOAL_BUDGET_EXCEEDED', message);
      }
    }
    expect(new BudgetExceededError('x').name).toBe('BudgetExceededError');
  });

  it.each([
    ['k: must be an integer', 'k'],
    ['vectors[3][1]: must be finite', 'vectors[3][1]'],
    ['no colon here', 'no colon here'],
    ['', ''],
  ])('InvalidArgumentError("%s").argument is %j', (message, argument) => {
    expect(new InvalidArgumentError(message).argument).toBe(argument);
    expect(new DimensionMismatchError(message).argument).toBe(argument);
  });

  it('keeps the cause of an IoError and an InternalError', () => {
    const cause = new Error('ENOENT');
    expect(new IoError('read failed', { path: '/x' }, { cause }).cause).toBe(cause);
    expect(new InternalError('bug', {}, { cause }).cause).toBe(cause);
  });
});

describe('toWire / fromWire', () => {
  it.each(CLASSES)('round-trips a %s to the same class, code, message and details', (_, Class, code) => {
    const original = new Class('labels[2]: bad thing', { row: 2, file: 'a.seg', items: ['x', 'y'] });
    const wire = toWire(original);
    expect(wire).toEqual({ code, message: 'labels[2]: bad thing', details: { row: 2, file: 'a.seg', items: ['x', 'y'] } });
    const back = fromWire(wire);
    expect(back).toBeInstanceOf(Class);
    expect(back.constructor).toBe(Class);
    expect(back.code).toBe(code);
    expect(back.message).toBe(original.message);
    expect(back.details).toEqual(original.details);
    expect(back.name).toBe(original.name);
  });

  it.each(CLASSES)('puts a %s on the wire as plain, structured-clonable data', (_, Class) => {
    const wire = toWire(new Class('m', { n: 1 }));
    const cloned = structuredClone(wire);
    expect(cloned).toEqual(wire);
    expect(Object.getPrototypeOf(wire)).toBe(Object.prototype);
    expect(fromWire(cloned)).toBeInstanceOf(Class);
  });

  it.each<[string, WireError]>([
    ['an unknown SHOAL_ code', { code: 'SHOAL_SOMETHING_NEW', message: 'm', details: { a: 1 } }],
    ['a non-shoal code', { code: 'ENOENT', message: 'm', details: {} }],
    ['an empty code', { code: '', message: 'm', details: {} }],
  ])('rebuilds %s as an InternalError keeping message and details', (_, wire) => {
    const err = fromWire(wire);
    expect(err).toBeInstanceOf(InternalError);
    expect(err.code).toBe('SHOAL_INTERNAL');
    expect(err.message).toBe(wire.message);
    expect(err.details).toEqual(wire.details);
  });

  // BUG (hardening): codes are looked up in a plain object literal, so a wire code naming an
  // Object.prototype member finds a function that is not a rebuilder: fromWire({ code:
  // 'toString', ... }) returns the string "[object Undefined]" and fromWire({ code:
  // 'constructor', ... }) returns a String object, not a ShoalError, and 'hasOwnProperty'
  // throws a TypeError. toWire never produces
  // such codes, so only hand-built wire data reaches this. Expected: InternalError.
  it.each([['toString'], ['constructor'], ['hasOwnProperty']])('rebuilds the code %j as an InternalError', (code) => {
    expect(fromWire({ code, message: 'm', details: {} })).toBeInstanceOf(InternalError);
  });

  it('round-trips a BudgetExceededError with its structured details and getters', () => {
    const details = {
      wantedBytes: 1000,
      limitBytes: 4096,
      usedBytes: 4000,
      pinnedBytes: 512,
      breakdown: [{ collection: 'docs', bytes: 3488, pinned: false, priority: 'normal' }],
      collection: 'docs',
    };
    const original = new BudgetExceededError('budget: cannot make room', details);
    expect(original.name).toBe('BudgetExceededError');
    expect(Object.keys(original)).not.toContain('name');
    expect(original.code).toBe('SHOAL_BUDGET_EXCEEDED');
    const back = fromWire(structuredClone(toWire(original)));
    expect(back).toBeInstanceOf(BudgetExceededError);
    expect(back.code).toBe('SHOAL_BUDGET_EXCEEDED');
    expect(back.message).toBe(original.message);
    expect(back.details).toEqual(details);
    const budget = back as BudgetExceededError;
    expect([budget.wantedBytes, budget.limitBytes, budget.usedBytes, budget.pinnedBytes]).toEqual([1000, 4096, 4000, 512]);
    expect(budget.breakdown).toEqual(details.breakdown);
  });
});

describe('toWire', () => {
  it.each<[string, unknown, WireError]>([
    ['a plain Error', new Error('boom'), { code: 'SHOAL_INTERNAL', message: 'boom', details: {} }],
    ['a TypeError', new TypeError('x is not a function'), { code: 'SHOAL_INTERNAL', message: 'x is not a function', details: {} }],
    ['a string', 'bad', { code: 'SHOAL_INTERNAL', message: 'bad', details: {} }],
    ['a number', 7, { code: 'SHOAL_INTERNAL', message: '7', details: {} }],
    ['null', null, { code: 'SHOAL_INTERNAL', message: 'null', details: {} }],
    ['undefined', undefined, { code: 'SHOAL_INTERNAL', message: 'undefined', details: {} }],
    [
      'an Error with a node error code',
      Object.assign(new Error('no such file'), { code: 'ENOENT', errno: -2 }),
      { code: 'SHOAL_INTERNAL', message: 'no such file', details: { errno: -2 } },
    ],
    [
      'a plain object with a shoal code',
      { code: 'SHOAL_CLOSED', message: 'closed', handle: 4 },
      { code: 'SHOAL_CLOSED', message: 'closed', details: { handle: 4 } },
    ],
    [
      'an Error with non-primitive extra fields',
      Object.assign(new Error('m'), { code: 'SHOAL_IO', path: '/p', inner: { a: 1 }, flag: true, list: [1] }),
      { code: 'SHOAL_IO', message: 'm', details: { path: '/p' } },
    ],
  ])('turns %s into wire data', (_, err, wire) => {
    expect(toWire(err)).toEqual(wire);
  });
});

describe('fromNative', () => {
  it('maps a plain Error with code SHOAL_NOT_FOUND and numeric fields to a NotFoundError carrying them', () => {
    const raw = Object.assign(new Error('labels: label 7 is not present'), { code: 'SHOAL_NOT_FOUND', label: 7, row: 2 });
    const err = fromNative(raw);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.code).toBe('SHOAL_NOT_FOUND');
    expect(err.name).toBe('NotFoundError');
    expect(err.message).toBe('labels: label 7 is not present');
    expect(err.details).toEqual({ label: 7, row: 2 });
  });

  it.each(CLASSES)('maps a raw native error with the code of %s to that class', (_, Class, code) => {
    const raw = Object.assign(new Error('native: failed'), { code, expected: 4, actual: 3 });
    const err = fromNative(raw);
    expect(err).toBeInstanceOf(Class);
    expect(err.code).toBe(code);
    expect(err.message).toBe('native: failed');
    expect(err.details).toEqual({ expected: 4, actual: 3 });
  });

  it.each<[string, unknown]>([
    ['an unknown SHOAL_ code', Object.assign(new Error('m'), { code: 'SHOAL_WHAT' })],
    ['a non-shoal code', Object.assign(new Error('m'), { code: 'ERR_INVALID_ARG_TYPE' })],
    ['a numeric code', Object.assign(new Error('m'), { code: 5 })],
    ['no code', new Error('m')],
    ['a RangeError', new RangeError('m')],
    ['a thrown string', 'm'],
  ])('maps %s to an InternalError', (_, raw) => {
    const err = fromNative(raw);
    expect(err).toBeInstanceOf(InternalError);
    expect(err.code).toBe('SHOAL_INTERNAL');
    expect(err.message).toBe('m');
  });

  it.each(CLASSES)('returns a %s unchanged (the same instance)', (_, Class) => {
    const err = new Class('m', { x: 1 });
    expect(fromNative(err)).toBe(err);
  });
});

// Last in the file: it replaces a rebuilder for the rest of this module instance.
describe('registerErrorCode', () => {
  it('lets a later registration rebuild a code', () => {
    class CustomLockedError extends LockedError {}
    registerErrorCode('SHOAL_LOCKED', (m, d) => new CustomLockedError(m, d));
    const back = fromWire(toWire(new LockedError('LOCK: held by pid 12', { pid: 12 })));
    expect(back).toBeInstanceOf(CustomLockedError);
    expect(back.name).toBe('CustomLockedError');
    expect(back.details).toEqual({ pid: 12 });
  });
});

describe('typed details', () => {
  it('each class narrows details to the fields it carries', () => {
    const missing = new NotFoundError('c: ids not found', { collection: 'c', ids: ['a', 'b'] });
    expectTypeOf(missing.details.ids).toEqualTypeOf<readonly string[] | undefined>();
    expect(missing.details.ids).toEqual(['a', 'b']);
    const locked = new LockedError('held', { path: '/x', pid: 7 });
    expectTypeOf(locked.details.pid).toEqualTypeOf<number | undefined>();
    expect(locked.details.pid).toBe(7);
    const damaged = new CorruptionError('other shape', { file: 'f.seg', expectedDim: 8, foundDim: 16 });
    expectTypeOf(damaged.details.foundDim).toEqualTypeOf<number | undefined>();
    expect((damaged.details.foundDim ?? 0) - (damaged.details.expectedDim ?? 0)).toBe(8);
  });
});

// Options + environment -> a frozen Config. Every test passes its own `env` object.
import { describe, expect, it } from 'vitest';

import { type BudgetOptions, type Config, DEFAULTS, ENVIRONMENT, parseBytes, resolveConfig } from '../../src/config.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { thrown } from '../support/errors.js';

type Options = BudgetOptions & { readonly threads?: number };
type Variable = keyof typeof ENVIRONMENT;


/** Asserts an InvalidArgumentError whose message starts with `source:` and returns it. */
function expectInvalid(fn: () => unknown, source: string): InvalidArgumentError {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(InvalidArgumentError);
  expect((err as InvalidArgumentError).code).toBe('SHOAL_INVALID_ARGUMENT');
  expect((err as InvalidArgumentError).message.startsWith(`${source}:`), (err as Error).message).toBe(true);
  expect((err as InvalidArgumentError).argument).toBe(source.split(':')[0]);
  return err as InvalidArgumentError;
}

/** Options setting one dotted path ('ttlMs', 'thresholds.soft') to `value`. */
function optionAt(path: string, value: unknown): Options {
  const [head, tail] = path.split('.') as [string, string | undefined];
  return (tail === undefined ? { [head]: value } : { [head]: { [tail]: value } }) as Options;
}

/** The setting at a dotted path of a Config. */
function settingAt(config: Config, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], config);
}

describe('parseBytes', () => {
  it.each<[string, unknown, number]>([
    ['takes a positive integer as bytes', 1024, 1024],
    ['takes 1 byte', 1, 1],
    ['takes the largest safe integer', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    ['takes a digit string as bytes', '1024', 1024],
    ['reads leading zeros as decimal', '0010', 10],
    ["reads 'B' as bytes", '10B', 10],
    ["reads 'b' as bytes", '10 b', 10],
    ["reads 'KB' as 1000", '2KB', 2000],
    ["reads '512MB' as 512e6", '512MB', 512e6],
    ["reads 'GB' as 1e9", '3GB', 3e9],
    ["reads 'TB' as 1e12", '2TB', 2e12],
    ["reads 'KiB' as 1024", '2KiB', 2048],
    ["reads 'MiB' as 2^20", '3MiB', 3 * 2 ** 20],
    ["reads '1GiB' as 2^30", '1GiB', 2 ** 30],
    ["reads 'TiB' as 2^40", '1TiB', 2 ** 40],
    ["reads a bare 'k' as binary", '1k', 1024],
    ["reads a bare 'K' as binary", '1K', 1024],
    ["reads a bare 'm' as binary", '1m', 2 ** 20],
    ["reads a bare 'M' as binary", '4M', 4 * 2 ** 20],
    ["reads a bare 'g' as binary", '1g', 2 ** 30],
    ['reads units in lower case', '512mb', 512e6],
    ['reads units in mixed case', '1gIb', 2 ** 30],
    ["reads '1.5 GiB' with a space and a fraction", '1.5 GiB', 1.5 * 2 ** 30],
    ['ignores surrounding whitespace', '  2 gib  ', 2 ** 31],
    ['ignores tabs and newlines around the parts', '\t8\tMiB\n', 8 * 2 ** 20],
    ['rounds a fractional unit amount down to whole bytes', '0.3KiB', 307],
    ['takes half a KiB', '0.5KiB', 512],
    ['takes the largest decimal amount that is still a safe integer', '9000TB', 9e15],
  ])('%s', (_name, value, expected) => {
    expect(parseBytes(value, 'memoryLimitBytes')).toBe(expected);
  });

  it.each<[string, unknown]>([
    ['rejects 0', 0],
    ['rejects -1', -1],
    ['rejects a fractional number of bytes given as a number', 1.5],
    ['rejects a fractional number of bytes given as a string', '1.9'],
    ['rejects NaN', Number.NaN],
    ['rejects Infinity', Number.POSITIVE_INFINITY],
    ['rejects -Infinity', Number.NEGATIVE_INFINITY],
    ['rejects a number beyond the safe integers', 2 ** 53],
    ["rejects '0'", '0'],
    ['rejects a fraction that rounds down to 0 bytes', '0.4'],
    ["rejects '-1'", '-1'],
    ["rejects 'abc'", 'abc'],
    ["rejects the unknown unit '12XB'", '12XB'],
    ["rejects the unknown unit 'PB'", '1PB'],
    ["rejects 'kbit'", '1kbit'],
    ['rejects an empty string', ''],
    ['rejects whitespace only', '   '],
    ['rejects a unit without an amount', 'MB'],
    ['rejects exponent notation', '1e6'],
    ['rejects a leading decimal point', '.5GB'],
    ['rejects a trailing decimal point', '5.GB'],
    ['rejects two decimal points', '1.5.2'],
    ['rejects digit grouping', '1 000'],
    ['rejects a sign', '+5'],
    ['rejects a string amount beyond the safe integers', '9007199254740992'],
    ['rejects a unit amount beyond the safe integers', '9008TB'],
    ['rejects null', null],
    ['rejects undefined', undefined],
    ['rejects a boolean', true],
    ['rejects a bigint', 10n],
    ['rejects an object', { bytes: 10 }],
    ['rejects an array', [1024]],
  ])('%s', (_name, value) => {
    const err = expectInvalid(() => parseBytes(value, 'environment variable SHOAL_MEMORY_LIMIT_BYTES'), 'environment variable SHOAL_MEMORY_LIMIT_BYTES');
    expect(err.message).toContain("'512MB'");
  });

  it.each<[string, unknown, string]>([
    ['quotes a bad string', '12XB', '"12XB"'],
    ['shows a bad number', -1, '-1'],
    ['shows NaN', Number.NaN, 'NaN'],
    ['describes an object', {}, 'an object'],
  ])('names the source and %s in the message', (_name, value, shown) => {
    const err = expectInvalid(() => parseBytes(value, 'memoryLimitBytes'), 'memoryLimitBytes');
    expect(err.message).toContain(`got ${shown}`);
  });
});

describe('resolveConfig', () => {
  it('gives the defaults with no options and an empty environment', () => {
    const config = resolveConfig({}, {});
    expect(config).toEqual(DEFAULTS);
    expect(config).toMatchObject({
      threads: DEFAULTS.threads,
      memoryLimitBytes: Number.MAX_SAFE_INTEGER,
      cachePolicy: 'lru',
      ttlMs: 0,
      maintenanceIntervalMs: 10_000,
      thresholds: { soft: 0.8, hard: 0.93, emergency: 0.98 },
      evictionTarget: 0.75,
      admissionWaitMs: 30_000,
    });
    expect(DEFAULTS.threads).toBeGreaterThanOrEqual(1);
  });

  describe('precedence: option > environment variable > default', () => {
    // Each row: a value as an option, another in the environment, what each resolves to.
    // Every value keeps soft < hard < emergency and evictionTarget <= soft with the defaults.
    const rows: [Variable, unknown, string, unknown, unknown][] = [
      ['SHOAL_MEMORY_LIMIT_BYTES', '1GiB', '512MB', 2 ** 30, 512e6],
      ['SHOAL_SEGMENT_CACHE_POLICY', 'lru', 'none', 'lru', 'none'],
      ['SHOAL_TTL_MS', 5000, '60000', 5000, 60_000],
      ['SHOAL_MAINTENANCE_INTERVAL_MS', 0, '2500', 0, 2500],
      ['SHOAL_THRESHOLD_SOFT', 0.85, '0.9', 0.85, 0.9],
      ['SHOAL_THRESHOLD_HARD', 0.9, '0.95', 0.9, 0.95],
      ['SHOAL_THRESHOLD_EMERGENCY', 0.99, '0.96', 0.99, 0.96],
      ['SHOAL_EVICTION_TARGET', 0.6, '0.7', 0.6, 0.7],
      ['SHOAL_THREADS', 3, '5', 3, 5],
      ['SHOAL_ADMISSION_WAIT_MS', 0, '2000', 0, 2000],
    ];

    it('covers every environment variable', () => {
      expect(rows.map((r) => r[0]).sort()).toEqual(Object.keys(ENVIRONMENT).sort());
    });

    it.each(rows)('lets an explicit option win over %s', (variable, option, envValue, fromOption) => {
      const path = ENVIRONMENT[variable];
      const config = resolveConfig(optionAt(path, option), { [variable]: envValue });
      expect(settingAt(config, path)).toEqual(fromOption);
    });

    it.each(rows)('reads %s when the option is absent', (variable, _option, envValue, _fromOption, fromEnv) => {
      const path = ENVIRONMENT[variable];
      expect(settingAt(resolveConfig({}, { [variable]: envValue }), path)).toEqual(fromEnv);
      // An option explicitly set to undefined counts as absent.
      expect(settingAt(resolveConfig(optionAt(path, undefined), { [variable]: envValue }), path)).toEqual(fromEnv);
    });

    it.each(rows)('falls back to the default when %s is unset or empty', (variable) => {
      const path = ENVIRONMENT[variable];
      const fallback = settingAt(DEFAULTS, path);
      expect(settingAt(resolveConfig({}, {}), path)).toEqual(fallback);
      expect(settingAt(resolveConfig({}, { [variable]: undefined }), path)).toEqual(fallback);
      expect(settingAt(resolveConfig({}, { [variable]: '' }), path)).toEqual(fallback);
    });

    it.each(rows)('changes only its own setting through %s', (variable, _option, envValue) => {
      const path = ENVIRONMENT[variable];
      const config = resolveConfig({}, { [variable]: envValue });
      for (const other of Object.values(ENVIRONMENT)) {
        if (other !== path) expect(settingAt(config, other), other).toEqual(settingAt(DEFAULTS, other));
      }
    });

    it('ignores environment variables it does not know', () => {
      expect(resolveConfig({}, { SHOAL_TTL: '5', shoal_ttl_ms: '5', PATH: '/bin' })).toEqual(DEFAULTS);
    });

    it('reads numbers with surrounding whitespace from the environment', () => {
      expect(resolveConfig({}, { SHOAL_TTL_MS: ' 42 ', SHOAL_THREADS: '\t2\n' })).toMatchObject({ ttlMs: 42, threads: 2 });
    });

    it('mixes sources per setting', () => {
      const config = resolveConfig(
        { ttlMs: 100, thresholds: { hard: 0.9 } },
        { SHOAL_TTL_MS: '999', SHOAL_THRESHOLD_SOFT: '0.85', SHOAL_SEGMENT_CACHE_POLICY: 'none' },
      );
      expect(config).toMatchObject({ ttlMs: 100, cachePolicy: 'none', thresholds: { soft: 0.85, hard: 0.9, emergency: 0.98 } });
    });
  });

  describe('bad values', () => {
    it.each<[Variable, string]>([
      ['SHOAL_MEMORY_LIMIT_BYTES', 'lots'],
      ['SHOAL_MEMORY_LIMIT_BYTES', '0'],
      ['SHOAL_SEGMENT_CACHE_POLICY', 'fifo'],
      ['SHOAL_SEGMENT_CACHE_POLICY', 'LRU'],
      ['SHOAL_TTL_MS', '-1'],
      ['SHOAL_TTL_MS', '1.5'],
      ['SHOAL_TTL_MS', 'soon'],
      ['SHOAL_TTL_MS', ' '],
      ['SHOAL_MAINTENANCE_INTERVAL_MS', '2147483648'],
      ['SHOAL_MAINTENANCE_INTERVAL_MS', '-5'],
      ['SHOAL_THRESHOLD_SOFT', '0'],
      ['SHOAL_THRESHOLD_SOFT', '0.009'],
      ['SHOAL_THRESHOLD_HARD', 'high'],
      ['SHOAL_THRESHOLD_EMERGENCY', '1.01'],
      ['SHOAL_EVICTION_TARGET', 'NaN'],
      ['SHOAL_THREADS', '0'],
      ['SHOAL_THREADS', '257'],
      ['SHOAL_THREADS', '2.5'],
      ['SHOAL_THREADS', 'Infinity'],
      ['SHOAL_ADMISSION_WAIT_MS', '-1'],
      ['SHOAL_ADMISSION_WAIT_MS', '2147483648'],
    ])('names the environment variable %s in the message for the value %j', (variable, value) => {
      const err = expectInvalid(() => resolveConfig({}, { [variable]: value }), `environment variable ${variable}`);
      expect(err.message).toContain(JSON.stringify(value));
    });

    it.each<[string, Options]>([
      ['memoryLimitBytes', { memoryLimitBytes: '12XB' }],
      ['memoryLimitBytes', { memoryLimitBytes: 0 }],
      ['memoryLimitBytes', { memoryLimitBytes: 1.5 }],
      ['cachePolicy', { cachePolicy: 'fifo' as 'lru' }],
      ['ttlMs', { ttlMs: -1 }],
      ['ttlMs', { ttlMs: 0.5 }],
      ['ttlMs', { ttlMs: Number.POSITIVE_INFINITY }],
      ['maintenanceIntervalMs', { maintenanceIntervalMs: 2 ** 31 }],
      ['thresholds.soft', { thresholds: { soft: Number.NaN } }],
      ['thresholds.hard', { thresholds: { hard: 0 } }],
      ['thresholds.emergency', { thresholds: { emergency: 2 } }],
      ['evictionTarget', { evictionTarget: 0 }],
      ['evictionTarget', { evictionTarget: 1.01 }],
      ['threads', { threads: 0 }],
      ['threads', { threads: 257 }],
      ['threads', { threads: 1.5 }],
      ['admissionWaitMs', { admissionWaitMs: -1 }],
      ['admissionWaitMs', { admissionWaitMs: 0.5 }],
    ])('names the option %s in the message for the options %j', (source, options) => {
      expectInvalid(() => resolveConfig(options, {}), source);
    });

    it('reports the bad option, not the environment variable, when both are set', () => {
      expectInvalid(() => resolveConfig({ ttlMs: -1 }, { SHOAL_TTL_MS: '5' }), 'ttlMs');
    });

    it('does not read a bad environment value that an option overrides', () => {
      expect(resolveConfig({ ttlMs: 5 }, { SHOAL_TTL_MS: 'garbage' }).ttlMs).toBe(5);
    });

    it.each<[string, Options]>([
      ['the smallest thread count', { threads: 1 }],
      ['the largest thread count', { threads: 256 }],
      ['a TTL of 0', { ttlMs: 0 }],
      ['the largest maintenance interval', { maintenanceIntervalMs: 2 ** 31 - 1 }],
      ['the smallest fractions', { thresholds: { soft: 0.01, hard: 0.02, emergency: 0.03 }, evictionTarget: 0.01 }],
      ['an emergency threshold of 1', { thresholds: { emergency: 1 } }],
      ['a cache policy of none', { cachePolicy: 'none' }],
      ['an admission wait of 0', { admissionWaitMs: 0 }],
    ])('accepts %s', (_name, options) => {
      expect(() => resolveConfig(options, {})).not.toThrow();
    });
  });

  describe('thresholds', () => {
    it.each<[string, Options, Record<string, string>]>([
      ['soft equal to hard', { thresholds: { soft: 0.9, hard: 0.9 } }, {}],
      ['hard equal to emergency', { thresholds: { hard: 0.98 } }, {}],
      ['soft above hard', { thresholds: { soft: 0.95, hard: 0.9, emergency: 0.99 } }, {}],
      ['hard above emergency', { thresholds: { hard: 0.99, emergency: 0.95 } }, {}],
      ['emergency below soft', { thresholds: { emergency: 0.5 } }, {}],
      ['an option soft above the default hard', { thresholds: { soft: 0.95 } }, {}],
      ['an environment soft above an option hard', { thresholds: { hard: 0.85 } }, { SHOAL_THRESHOLD_SOFT: '0.9' }],
      ['environment thresholds in the wrong order', {}, { SHOAL_THRESHOLD_SOFT: '0.9', SHOAL_THRESHOLD_HARD: '0.85', SHOAL_THRESHOLD_EMERGENCY: '0.95' }],
    ])('rejects %s: thresholds must satisfy soft < hard < emergency', (_name, options, env) => {
      const err = expectInvalid(() => resolveConfig(options, env), 'thresholds');
      expect(err.message).toContain('soft < hard < emergency');
    });

    it('names every threshold value in the message', () => {
      const err = expectInvalid(() => resolveConfig({ thresholds: { soft: 0.9, hard: 0.85, emergency: 0.95 } }, {}), 'thresholds');
      expect(err.message).toContain('soft 0.9, hard 0.85, emergency 0.95');
    });

    it('accepts thresholds in strict order from mixed sources', () => {
      const config = resolveConfig({ thresholds: { soft: 0.5 }, evictionTarget: 0.4 }, { SHOAL_THRESHOLD_HARD: '0.6', SHOAL_THRESHOLD_EMERGENCY: '0.7' });
      expect(config.thresholds).toEqual({ soft: 0.5, hard: 0.6, emergency: 0.7 });
    });

    it.each<[string, Options, Record<string, string>, number]>([
      ['an evictionTarget above the default soft threshold', { evictionTarget: 0.85 }, {}, 0.8],
      ['the default evictionTarget above a lowered soft threshold', { thresholds: { soft: 0.7 } }, {}, 0.7],
      ['an environment evictionTarget above an option soft threshold', { thresholds: { soft: 0.6 } }, { SHOAL_EVICTION_TARGET: '0.65' }, 0.6],
    ])('rejects %s', (_name, options, env, soft) => {
      const err = expectInvalid(() => resolveConfig(options, env), 'evictionTarget');
      expect(err.message).toContain(`thresholds.soft (${soft})`);
    });

    it.each<[string, Options]>([
      ['equal to soft', { thresholds: { soft: 0.7 }, evictionTarget: 0.7 }],
      ['below soft', { evictionTarget: 0.5 }],
      ['at soft when soft is raised', { thresholds: { soft: 0.9, hard: 0.95, emergency: 0.99 }, evictionTarget: 0.9 }],
    ])('accepts an evictionTarget %s', (_name, options) => {
      const config = resolveConfig(options, {});
      expect(config.evictionTarget).toBeLessThanOrEqual(config.thresholds.soft);
    });
  });

  describe('the result', () => {
    it('is frozen, thresholds included', () => {
      const config = resolveConfig({ ttlMs: 5 }, {});
      expect(Object.isFrozen(config)).toBe(true);
      expect(Object.isFrozen(config.thresholds)).toBe(true);
      expect(() => {
        (config as { ttlMs: number }).ttlMs = 6;
      }).toThrow(TypeError);
      expect(() => {
        (config.thresholds as { soft: number }).soft = 0.1;
      }).toThrow(TypeError);
      expect(config.ttlMs).toBe(5);
    });

    it('does not share the caller\'s thresholds object', () => {
      const thresholds = { soft: 0.7, hard: 0.8, emergency: 0.9 };
      const config = resolveConfig({ thresholds, evictionTarget: 0.5 }, {});
      thresholds.soft = 0.1;
      expect(config.thresholds.soft).toBe(0.7);
      expect(Object.isFrozen(thresholds)).toBe(false);
    });

    it('leaves DEFAULTS frozen and unchanged', () => {
      const before = JSON.stringify(DEFAULTS);
      resolveConfig({ ttlMs: 5, thresholds: { emergency: 0.99 } }, { SHOAL_THREADS: '2' });
      expect(JSON.stringify(DEFAULTS)).toBe(before);
      expect(Object.isFrozen(DEFAULTS)).toBe(true);
      expect(Object.isFrozen(DEFAULTS.thresholds)).toBe(true);
    });

    it('leaves the env object untouched', () => {
      const env = Object.freeze({ SHOAL_TTL_MS: '7' });
      expect(resolveConfig({}, env).ttlMs).toBe(7);
      expect(env).toEqual({ SHOAL_TTL_MS: '7' });
    });
  });

  describe('base (as configure() uses it)', () => {
    const base: Config = Object.freeze({
      threads: 3,
      memoryLimitBytes: 2 ** 30,
      cachePolicy: 'none',
      ttlMs: 60_000,
      maintenanceIntervalMs: 500,
      thresholds: Object.freeze({ soft: 0.5, hard: 0.6, emergency: 0.7 }),
      evictionTarget: 0.4,
      admissionWaitMs: 1234,
    });

    it('supplies every setting no option or variable gives', () => {
      expect(resolveConfig({}, {}, base)).toEqual(base);
    });

    it('returns a new frozen object, not the base', () => {
      const config = resolveConfig({}, {}, base);
      expect(config).not.toBe(base);
      expect(Object.isFrozen(config)).toBe(true);
    });

    it.each<[string, Options, Record<string, string>, Partial<Config>]>([
      ['lets an option override the base', { ttlMs: 5 }, {}, { ttlMs: 5, cachePolicy: 'none' }],
      ['lets an environment variable override the base', {}, { SHOAL_SEGMENT_CACHE_POLICY: 'lru' }, { cachePolicy: 'lru', ttlMs: 60_000 }],
      ['lets an option win over an environment variable over the base', { threads: 7 }, { SHOAL_THREADS: '9' }, { threads: 7 }],
      ['merges one option threshold with the base thresholds', { thresholds: { hard: 0.65 } }, {}, { thresholds: { soft: 0.5, hard: 0.65, emergency: 0.7 } }],
      ['keeps the base eviction target when only the limit changes', { memoryLimitBytes: '1MiB' }, {}, { memoryLimitBytes: 2 ** 20, evictionTarget: 0.4 }],
    ])('%s', (_name, options, env, expected) => {
      expect(resolveConfig(options, env, base)).toMatchObject(expected);
    });

    it('checks the threshold order against the base thresholds', () => {
      expectInvalid(() => resolveConfig({ thresholds: { hard: 0.75 } }, {}, base), 'thresholds');
    });

    it('checks the eviction target against the base soft threshold', () => {
      expectInvalid(() => resolveConfig({ evictionTarget: 0.55 }, {}, base), 'evictionTarget');
    });
  });
});

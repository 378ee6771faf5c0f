/**
 * Options + environment -> a frozen Config. Explicit options win over environment variables,
 * which win over defaults; a bad value is an InvalidArgumentError naming where it came from.
 * Pure: reads only the `env` object it is given.
 */
import { availableParallelism } from 'node:os';

import { InvalidArgumentError } from './errors.js';
import { describe } from './vectors.js';

export type CachePolicy = 'lru' | 'none';

export interface Thresholds {
  /** Above this fraction of the limit, expired and low-priority segments are evicted in the background. */
  readonly soft: number;
  /** Above this, every admission first evicts down to the eviction target. */
  readonly hard: number;
  /** Above this, everything evictable but critical is evicted and new loads and growth are refused. */
  readonly emergency: number;
}

export interface BudgetOptions {
  /** The most native memory all resident segments may hold: bytes, or a string like '512MB'. Default: no limit. */
  readonly memoryLimitBytes?: number | string;
  /** 'lru' evicts to make room; 'none' never evicts and rejects when full. Default 'lru'. */
  readonly cachePolicy?: CachePolicy;
  /** Unload segments idle this long; 0 turns TTL off. Default 0. */
  readonly ttlMs?: number;
  /** How often the TTL and threshold checks run; 0: only when maintain() is called. Default 10 s. */
  readonly maintenanceIntervalMs?: number;
  readonly thresholds?: Partial<Thresholds>;
  /** Evict down to this fraction of the limit. Default 0.75. */
  readonly evictionTarget?: number;
  /**
   * How long a load may wait for other calls to finish with the segments it must evict,
   * before failing with BudgetExceededError. Default 30 s.
   */
  readonly admissionWaitMs?: number;
}

export interface Config {
  readonly threads: number;
  readonly memoryLimitBytes: number;
  readonly cachePolicy: CachePolicy;
  readonly ttlMs: number;
  readonly maintenanceIntervalMs: number;
  readonly thresholds: Thresholds;
  readonly evictionTarget: number;
  readonly admissionWaitMs: number;
}

export const DEFAULTS: Config = Object.freeze({
  threads: availableParallelism(),
  memoryLimitBytes: Number.MAX_SAFE_INTEGER,
  cachePolicy: 'lru',
  ttlMs: 0,
  maintenanceIntervalMs: 10_000,
  thresholds: Object.freeze({ soft: 0.8, hard: 0.93, emergency: 0.98 }),
  // Below soft minus the hysteresis gap, so one eviction round leaves the soft level.
  evictionTarget: 0.75,
  admissionWaitMs: 30_000,
});

/** Environment variables and the option each one supplies. */
export const ENVIRONMENT = {
  SHOAL_MEMORY_LIMIT_BYTES: 'memoryLimitBytes',
  SHOAL_SEGMENT_CACHE_POLICY: 'cachePolicy',
  SHOAL_TTL_MS: 'ttlMs',
  SHOAL_MAINTENANCE_INTERVAL_MS: 'maintenanceIntervalMs',
  SHOAL_THRESHOLD_SOFT: 'thresholds.soft',
  SHOAL_THRESHOLD_HARD: 'thresholds.hard',
  SHOAL_THRESHOLD_EMERGENCY: 'thresholds.emergency',
  SHOAL_EVICTION_TARGET: 'evictionTarget',
  SHOAL_THREADS: 'threads',
  SHOAL_ADMISSION_WAIT_MS: 'admissionWaitMs',
} as const;

const UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30,
};

/** 1024, '1024', '512MB', '1.5 GiB' -> bytes (KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024). */
export function parseBytes(value: unknown, source: string): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value > 0) return value;
  } else if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
    const unit = UNITS[(match?.[2] ?? '').toLowerCase() || 'b'];
    if (match !== null && unit !== undefined) {
      // A fraction of a unit is fine ('1.5GiB'); a fraction of a byte is not.
      const exact = Number(match[1]) * unit;
      const bytes = Math.floor(exact);
      if (Number.isSafeInteger(bytes) && bytes > 0 && (unit > 1 || bytes === exact)) return bytes;
    }
  }
  throw new InvalidArgumentError(`${source}: must be a positive number of bytes or a string like '512MB' or '2GiB', got ${describe(value)}`);
}

function number(value: unknown, source: string, min: number, max: number, integer: boolean): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new InvalidArgumentError(`${source}: must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${describe(value)}`);
  }
  return n;
}

function fraction(value: unknown, source: string): number {
  return number(value, source, 0.01, 1, false);
}

function policy(value: unknown, source: string): CachePolicy {
  if (value === 'lru' || value === 'none') return value;
  throw new InvalidArgumentError(`${source}: must be 'lru' or 'none', got ${describe(value)}`);
}

/** Where a setting came from, for error messages. */
function pick(option: unknown, env: Record<string, string | undefined>, variable: keyof typeof ENVIRONMENT): [unknown, string] | null {
  if (option !== undefined) return [option, ENVIRONMENT[variable]];
  const fromEnv = env[variable];
  if (fromEnv !== undefined && fromEnv !== '') return [fromEnv, `environment variable ${variable}`];
  return null;
}

/** Resolves a full Config from options, the environment and defaults, or throws. */
export function resolveConfig(
  options: BudgetOptions & { readonly threads?: number },
  env: Record<string, string | undefined> = process.env,
  base: Config = DEFAULTS,
): Config {
  const get = <T>(option: unknown, variable: keyof typeof ENVIRONMENT, parse: (v: unknown, s: string) => T, fallback: T): T => {
    const found = pick(option, env, variable);
    return found === null ? fallback : parse(found[0], found[1]);
  };
  const t = options.thresholds ?? {};
  const thresholds = {
    soft: get(t.soft, 'SHOAL_THRESHOLD_SOFT', fraction, base.thresholds.soft),
    hard: get(t.hard, 'SHOAL_THRESHOLD_HARD', fraction, base.thresholds.hard),
    emergency: get(t.emergency, 'SHOAL_THRESHOLD_EMERGENCY', fraction, base.thresholds.emergency),
  };
  if (!(thresholds.soft < thresholds.hard && thresholds.hard < thresholds.emergency)) {
    throw new InvalidArgumentError(
      `thresholds: must satisfy soft < hard < emergency, got soft ${thresholds.soft}, hard ${thresholds.hard}, emergency ${thresholds.emergency}`,
    );
  }
  const evictionTarget = get(options.evictionTarget, 'SHOAL_EVICTION_TARGET', fraction, base.evictionTarget);
  if (evictionTarget > thresholds.soft) {
    throw new InvalidArgumentError(`evictionTarget: must be at most thresholds.soft (${thresholds.soft}), got ${evictionTarget}`);
  }
  return Object.freeze({
    threads: get(options.threads, 'SHOAL_THREADS', (v, s) => number(v, s, 1, 256, true), base.threads),
    memoryLimitBytes: get(options.memoryLimitBytes, 'SHOAL_MEMORY_LIMIT_BYTES', parseBytes, base.memoryLimitBytes),
    cachePolicy: get(options.cachePolicy, 'SHOAL_SEGMENT_CACHE_POLICY', policy, base.cachePolicy),
    ttlMs: get(options.ttlMs, 'SHOAL_TTL_MS', (v, s) => number(v, s, 0, Number.MAX_SAFE_INTEGER, true), base.ttlMs),
    maintenanceIntervalMs: get(
      options.maintenanceIntervalMs,
      'SHOAL_MAINTENANCE_INTERVAL_MS',
      (v, s) => number(v, s, 0, 2 ** 31 - 1, true),
      base.maintenanceIntervalMs,
    ),
    thresholds: Object.freeze(thresholds),
    evictionTarget,
    admissionWaitMs: get(options.admissionWaitMs, 'SHOAL_ADMISSION_WAIT_MS', (v, s) => number(v, s, 0, 2 ** 31 - 1, true), base.admissionWaitMs),
  });
}

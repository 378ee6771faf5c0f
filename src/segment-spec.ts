/**
 * The shape of one HNSW segment, validated. Pure: collections (through the API) and the raw
 * Segment class both check their options here, without loading the addon.
 */
import { InvalidArgumentError } from './errors.js';
import type { SegmentSpec, SpaceName } from './native/binding.js';
import { checkInteger, describe } from './vectors.js';

export interface SegmentOptions {
  readonly dim: number;
  /** 'l2' (squared Euclidean), 'ip' (1 - dot) or 'cosine' (1 - cosine similarity). Default 'l2'. */
  readonly space?: SpaceName;
  /** Graph degree. Default 16. */
  readonly M?: number;
  /** Build-time search breadth. Default 200. */
  readonly efConstruction?: number;
  /** Slots to allocate; grows with resize(). Default 1024. */
  readonly capacity?: number;
  readonly seed?: number;
}

const SPACES: readonly SpaceName[] = ['l2', 'ip', 'cosine'];

export function checkSpec(options: SegmentOptions): SegmentSpec {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`options: must be an object, got ${describe(options)}`);
  }
  const space = options.space ?? 'l2';
  if (!SPACES.includes(space)) {
    throw new InvalidArgumentError(`space: must be 'l2', 'ip' or 'cosine', got ${describe(space)}`);
  }
  return {
    dim: checkInteger(options.dim, 'dim', 1, 65536),
    space,
    M: checkInteger(options.M ?? 16, 'M', 2, 2048),
    efConstruction: checkInteger(options.efConstruction ?? 200, 'efConstruction', 1, 1 << 20),
    capacity: checkInteger(options.capacity ?? 1024, 'capacity', 1, 0xfffffffe),
    seed: checkInteger(options.seed ?? 100, 'seed', 0),
  };
}


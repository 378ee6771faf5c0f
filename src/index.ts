/** shoal's public API. This file only re-exports. */
export * from './errors.js';
export { Segment, type SegmentOptions, type SearchOptions } from './native/segment.js';
export {
  native,
  NO_LABEL,
  MAX_LABEL,
  type SegmentHandle,
  type SegmentInfo,
  type SegmentSpec,
  type SpaceName,
  type SearchOutput,
  type ByteEstimate,
  type SegmentFileSummary,
} from './native/binding.js';
export type { VectorsInput } from './vectors.js';
export { Shoal, type ShoalOptions } from './shoal.js';
export {
  Collection,
  type CollectionOptions,
  type QueryOptions,
  type QueryResult,
  type GetResult,
} from './collection.js';

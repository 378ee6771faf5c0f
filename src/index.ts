/** shoal's public API. This file only re-exports. */
export {
  ShoalError,
  InvalidArgumentError,
  DimensionMismatchError,
  InvalidVectorError,
  InvalidLabelError,
  InvalidMetadataError,
  InvalidFilterError,
  AlreadyExistsError,
  NotFoundError,
  CapacityExceededError,
  CorruptionError,
  NotASegmentError,
  UnsupportedVersionError,
  ClosedError,
  AbortError,
  IoError,
  OutOfMemoryError,
  LockedError,
  InternalError,
  BudgetExceededError,
  type ErrorCode,
  type ErrorDetails,
  type ArgumentDetails,
  type PresenceDetails,
  type CapacityDetails,
  type FileDetails,
  type ClosedDetails,
  type AbortDetails,
  type PathDetails,
  type LockDetails,
  type ResidentShare,
} from './errors.js';
export {
  Shoal,
  type ShoalOptions,
  type ShoalEvents,
  type ReconfiguredEvent,
  type RecoveryReport,
  type ProgressEvent,
  type BackupOptions,
  type BackupReport,
  type ImportOptions,
} from './shoal.js';
export type { ShoalStats, CollectionStats, ShardStats } from './coordinator/stats.js';
export {
  Collection,
  type CollectionOptions,
  type QueryOptions,
  type QueryResult,
  type GetResult,
  type ExportOptions,
  type ExportReport,
  type Where,
  type ScanOptions,
  type ScanPage,
} from './collection.js';
export { EXPORT_FORMAT, EXPORT_VERSION, formatFloat32, type ExportHeader } from './tools/jsonl.js';
export type { Metadata, MetadataValue } from './metadata/values.js';
export type { BudgetOptions, CachePolicy, Config, Thresholds } from './config.js';
export type { Priority, EvictionReason } from './budget/policy.js';
export type { Level } from './budget/thresholds.js';
export type { LoadedEvent, EvictedEvent, RejectedEvent, ThresholdEvent } from './budget/governor.js';
export type { EvictionRecord } from './budget/stats.js';
export type { Durability, TruncatedTail } from './storage/wal.js';
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
export { assessHealth, type Health, type HealthStatus } from './health.js';
export { registerMetrics, LOAD_SECONDS_BUCKETS, type MetricsRegistry, type MetricsSource } from './metrics.js';
export { CHANNELS } from './diagnostics.js';
export type { ShutdownOptions, ShutdownHook } from './shutdown.js';

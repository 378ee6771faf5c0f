/**
 * Every error shoal throws: one base class with a stable `code`, one subclass per kind, and
 * structured fields so callers never parse messages. Codes are API and never change; messages
 * may. Errors cross threads as plain data (`toWire`) and are rebuilt here (`fromWire`).
 */

export type ErrorCode =
  | 'SHOAL_INVALID_ARGUMENT'
  | 'SHOAL_DIMENSION_MISMATCH'
  | 'SHOAL_INVALID_VECTOR'
  | 'SHOAL_INVALID_LABEL'
  | 'SHOAL_INVALID_METADATA'
  | 'SHOAL_INVALID_FILTER'
  | 'SHOAL_ALREADY_EXISTS'
  | 'SHOAL_NOT_FOUND'
  | 'SHOAL_CAPACITY_EXCEEDED'
  | 'SHOAL_NOT_A_SEGMENT'
  | 'SHOAL_UNSUPPORTED_VERSION'
  | 'SHOAL_CORRUPT'
  | 'SHOAL_CLOSED'
  | 'SHOAL_ABORTED'
  | 'SHOAL_IO'
  | 'SHOAL_OUT_OF_MEMORY'
  | 'SHOAL_BUDGET_EXCEEDED'
  | 'SHOAL_LOCKED'
  | 'SHOAL_INTERNAL';

/** Numeric facts about a failure (expected dimension, offending row, ...). */
export type ErrorDetails = Readonly<Record<string, number | string | readonly unknown[]>>;

/** Details of InvalidArgumentError and its subclasses (which fields depend on the check; docs/errors.md). */
export type ArgumentDetails = ErrorDetails & {
  readonly row?: number;
  readonly column?: number;
  readonly expected?: number;
  readonly actual?: number;
  readonly length?: number;
  readonly label?: number;
};

/** Details of AlreadyExistsError and NotFoundError. */
export type PresenceDetails = ErrorDetails & {
  readonly collection?: string;
  /** Every id of the call that is present (add) or absent (delete, get). */
  readonly ids?: readonly string[];
  readonly label?: number;
  readonly row?: number;
};

export type CapacityDetails = ErrorDetails & { readonly needed?: number; readonly available?: number; readonly capacity?: number };

/** Details of CorruptionError and its subclasses. */
export type FileDetails = ErrorDetails & {
  readonly file?: string;
  readonly collection?: string;
  /** Where a damaged shard's files were moved (comma-separated). */
  readonly keptAs?: string;
  readonly version?: number;
  readonly supported?: number;
  readonly expectedBytes?: number;
  readonly actualBytes?: number;
  readonly expectedDim?: number;
  readonly foundDim?: number;
  readonly expectedSpace?: string;
  readonly foundSpace?: string;
};

export type ClosedDetails = ErrorDetails & { readonly handle?: number };
export type AbortDetails = ErrorDetails & { readonly completed?: number };
export type PathDetails = ErrorDetails & { readonly path?: string };
export type LockDetails = ErrorDetails & { readonly path?: string; readonly pid?: number };

export class ShoalError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = details;
    Object.defineProperty(this, 'name', { value: new.target.name, enumerable: false, configurable: true });
  }
}

/** Bad input: an option, a count, a name. `argument` names it. */
export class InvalidArgumentError extends ShoalError {
  declare readonly details: ArgumentDetails;
  constructor(message: string, details: ErrorDetails = {}, code: ErrorCode = 'SHOAL_INVALID_ARGUMENT') {
    super(code, message, details);
  }
  /** The argument the message is about (the text before the first colon). */
  get argument(): string {
    return this.message.split(':')[0] ?? '';
  }
}

/** A vector or batch whose length does not match the collection's dimension. */
export class DimensionMismatchError extends InvalidArgumentError {
  declare readonly details: ArgumentDetails;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'SHOAL_DIMENSION_MISMATCH');
  }
}

/** A vector holding NaN or an infinity (or, in cosine space, all zeros). */
export class InvalidVectorError extends InvalidArgumentError {
  declare readonly details: ArgumentDetails;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'SHOAL_INVALID_VECTOR');
  }
}

/** A label or id that is not an integer in range, or appears twice in one call. */
export class InvalidLabelError extends InvalidArgumentError {
  declare readonly details: ArgumentDetails;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'SHOAL_INVALID_LABEL');
  }
}

/** A metadata value that cannot be stored: details name the id, the row and the key. */
export class InvalidMetadataError extends InvalidArgumentError {
  declare readonly details: ArgumentDetails & { readonly id?: string; readonly key?: string };
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'SHOAL_INVALID_METADATA');
  }
}

/** A `where` filter that is not one the filter language allows; the message says what was expected. */
export class InvalidFilterError extends InvalidArgumentError {
  declare readonly details: ArgumentDetails & { readonly path?: string };
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'SHOAL_INVALID_FILTER');
  }
}

export class AlreadyExistsError extends ShoalError {
  declare readonly details: PresenceDetails;
  constructor(message: string, details: ErrorDetails = {}) {
    super('SHOAL_ALREADY_EXISTS', message, details);
  }
}

export class NotFoundError extends ShoalError {
  declare readonly details: PresenceDetails;
  constructor(message: string, details: ErrorDetails = {}) {
    super('SHOAL_NOT_FOUND', message, details);
  }
}

/** A segment has no free slot for the new labels; it must be resized first. */
export class CapacityExceededError extends ShoalError {
  declare readonly details: CapacityDetails;
  constructor(message: string, details: ErrorDetails = {}) {
    super('SHOAL_CAPACITY_EXCEEDED', message, details);
  }
}

/** A file that is damaged: truncated, failing its checksum, or internally inconsistent. */
export class CorruptionError extends ShoalError {
  declare readonly details: FileDetails;
  constructor(message: string, details: ErrorDetails = {}, code: ErrorCode = 'SHOAL_CORRUPT') {
    super(code, message, details);
  }
}

/** A file that is not a shoal segment at all (wrong magic bytes). */
export class NotASegmentError extends CorruptionError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'SHOAL_NOT_A_SEGMENT');
  }
}

/** A segment file written by a format version this build does not read. */
export class UnsupportedVersionError extends CorruptionError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'SHOAL_UNSUPPORTED_VERSION');
  }
}

/** Use of something already closed or freed. */
export class ClosedError extends ShoalError {
  declare readonly details: ClosedDetails;
  constructor(message: string, details: ErrorDetails = {}) {
    super('SHOAL_CLOSED', message, details);
  }
}

/** The caller cancelled the operation. `details.completed` counts elements processed first. */
export class AbortError extends ShoalError {
  declare readonly details: AbortDetails;
  constructor(message: string, details: ErrorDetails = {}) {
    super('SHOAL_ABORTED', message, details);
  }
}

export class IoError extends ShoalError {
  declare readonly details: PathDetails;
  constructor(message: string, details: ErrorDetails = {}, options?: ErrorOptions) {
    super('SHOAL_IO', message, details, options);
  }
}

export class OutOfMemoryError extends ShoalError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('SHOAL_OUT_OF_MEMORY', message, details);
  }
}

/** The data directory is held by another live process. */
export class LockedError extends ShoalError {
  declare readonly details: LockDetails;
  constructor(message: string, details: ErrorDetails = {}) {
    super('SHOAL_LOCKED', message, details);
  }
}

/** A broken invariant inside shoal: a bug. */
export class InternalError extends ShoalError {
  constructor(message: string, details: ErrorDetails = {}, options?: ErrorOptions) {
    super('SHOAL_INTERNAL', message, details, options);
  }
}

type Rebuild = (message: string, details: ErrorDetails) => ShoalError;

const BY_CODE: Record<Exclude<ErrorCode, 'SHOAL_BUDGET_EXCEEDED'>, Rebuild> = {
  SHOAL_INVALID_ARGUMENT: (m, d) => new InvalidArgumentError(m, d),
  SHOAL_DIMENSION_MISMATCH: (m, d) => new DimensionMismatchError(m, d),
  SHOAL_INVALID_VECTOR: (m, d) => new InvalidVectorError(m, d),
  SHOAL_INVALID_LABEL: (m, d) => new InvalidLabelError(m, d),
  SHOAL_INVALID_METADATA: (m, d) => new InvalidMetadataError(m, d),
  SHOAL_INVALID_FILTER: (m, d) => new InvalidFilterError(m, d),
  SHOAL_ALREADY_EXISTS: (m, d) => new AlreadyExistsError(m, d),
  SHOAL_NOT_FOUND: (m, d) => new NotFoundError(m, d),
  SHOAL_CAPACITY_EXCEEDED: (m, d) => new CapacityExceededError(m, d),
  SHOAL_NOT_A_SEGMENT: (m, d) => new NotASegmentError(m, d),
  SHOAL_UNSUPPORTED_VERSION: (m, d) => new UnsupportedVersionError(m, d),
  SHOAL_CORRUPT: (m, d) => new CorruptionError(m, d),
  SHOAL_CLOSED: (m, d) => new ClosedError(m, d),
  SHOAL_ABORTED: (m, d) => new AbortError(m, d),
  SHOAL_IO: (m, d) => new IoError(m, d),
  SHOAL_OUT_OF_MEMORY: (m, d) => new OutOfMemoryError(m, d),
  SHOAL_LOCKED: (m, d) => new LockedError(m, d),
  SHOAL_INTERNAL: (m, d) => new InternalError(m, d),
};

/** Extra rebuilders registered by modules that define further error classes. */
const extraRebuilders = new Map<string, Rebuild>();

/** Lets a module that defines an error class (e.g. the budget) take part in `fromWire`. */
export function registerErrorCode(code: ErrorCode, rebuild: Rebuild): void {
  extraRebuilders.set(code, rebuild);
}

/** An error as plain data, safe to post between threads. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details: ErrorDetails;
}

export function toWire(err: unknown): WireError {
  if (err instanceof ShoalError) return { code: err.code, message: err.message, details: err.details };
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' && e.code.startsWith('SHOAL_') ? e.code : 'SHOAL_INTERNAL';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const details: Record<string, number | string> = {};
  if (e !== null && typeof e === 'object') {
    for (const [key, value] of Object.entries(e)) {
      if (key !== 'code' && key !== 'message' && (typeof value === 'number' || typeof value === 'string')) {
        details[key] = value;
      }
    }
  }
  return { code, message, details };
}

/** Rebuilds the matching ShoalError subclass from wire data or from a raw native error. */
export function fromWire(wire: WireError): ShoalError {
  const rebuild = extraRebuilders.get(wire.code) ?? (Object.hasOwn(BY_CODE, wire.code) ? BY_CODE[wire.code as keyof typeof BY_CODE] : undefined);
  if (rebuild !== undefined) return rebuild(wire.message, wire.details);
  return new InternalError(wire.message, wire.details);
}

/** Turns anything thrown by the addon into the matching ShoalError. */
export function fromNative(err: unknown): ShoalError {
  if (err instanceof ShoalError) return err;
  return fromWire(toWire(err));
}

/** One collection's share of the budget, in BudgetExceededError and stats. */
export interface ResidentShare {
  readonly collection: string;
  readonly bytes: number;
  readonly pinned: boolean;
  readonly priority: string;
}

/**
 * The memory budget cannot make room: what was wanted did not fit after evicting everything
 * the policy allows. Nothing changed.
 */
export class BudgetExceededError extends ShoalError {
  constructor(message: string, details: {
    readonly wantedBytes: number;
    readonly limitBytes: number;
    readonly usedBytes: number;
    readonly pinnedBytes: number;
    readonly breakdown: readonly ResidentShare[];
    readonly reason?: string;
    readonly collection?: string;
  }) {
    super('SHOAL_BUDGET_EXCEEDED', message, details);
  }
  get wantedBytes(): number {
    return this.details['wantedBytes'] as number;
  }
  get limitBytes(): number {
    return this.details['limitBytes'] as number;
  }
  get usedBytes(): number {
    return this.details['usedBytes'] as number;
  }
  get pinnedBytes(): number {
    return this.details['pinnedBytes'] as number;
  }
  get breakdown(): readonly ResidentShare[] {
    return this.details['breakdown'] as readonly ResidentShare[];
  }
}
registerErrorCode('SHOAL_BUDGET_EXCEEDED', (m, d) => new BudgetExceededError(m, d as ConstructorParameters<typeof BudgetExceededError>[1]));

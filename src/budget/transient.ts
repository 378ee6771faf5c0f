/**
 * Transient memory: the bytes a call allocates for its own duration (query buffers and search
 * scratch, write batches in shared memory, log records), what they cost and how a call too
 * large to hold at once is cut into parts. Pure functions. The governor reserves these bytes
 * (kind 'transient') like any other and releases them when the call's part ends; a call whose
 * part does not fit waits for other calls' transient bytes to be released, or is refused.
 */

/** A transient reservation that did not fit: wait for others to release theirs, or refuse. */
export type TransientPlan = { readonly kind: 'reject' } | { readonly kind: 'wait'; readonly forKeys: readonly string[]; readonly untilMs: number };

/**
 * Waits only while other calls hold transient bytes (they release them without waiting for
 * this call), the request could fit the limit at all, and the deadline has not passed.
 */
export function planTransientWait(inFlightBytes: number, wantedBytes: number, limitBytes: number, nowMs: number, deadlineMs: number): TransientPlan {
  if (inFlightBytes <= 0 || wantedBytes > limitBytes || nowMs >= deadlineMs) return { kind: 'reject' };
  return { kind: 'wait', forKeys: [], untilMs: deadlineMs };
}

/**
 * The most transient bytes one part of a call reserves: 1/16 of the limit, at least 1 MiB
 * and at most 64 MiB. Parts run one after another, so a call never holds more than this
 * beyond what it returns, and several calls run beside each other under any limit.
 */
export function transientPartBytes(limitBytes: number): number {
  return Math.min(64 * 2 ** 20, Math.max(2 ** 20, Math.floor(limitBytes / 16)));
}

/** Rows per part when each row costs `rowBytes`: at least 1, at most `rows`. */
export function rowsPerPart(rows: number, rowBytes: number, partBytes: number): number {
  if (rowBytes <= 0) return Math.max(1, rows);
  return Math.max(1, Math.min(rows, Math.floor(partBytes / rowBytes)));
}

/** Bytes of one query row in flight: its vector and each shard's k labels and distances. */
export function queryRowBytes(dim: number, k: number, shards: number): number {
  return 4 * dim + 8 * k * shards;
}

/**
 * Bytes of one query row's answer on the main thread while it is built and returned: per hit
 * an id reference and a distance plus the merge's entry, and the row's objects.
 */
export function queryAnswerBytes(k: number): number {
  return 32 * k + 128;
}

/** Bytes of one written row in flight: its vector in shared memory and its label. */
export function writeRowBytes(dim: number): number {
  return 4 * dim + 4;
}

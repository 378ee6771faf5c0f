/**
 * HTTP status and JSON body for an error. shoal's typed errors keep their code; errors from the
 * HTTP layer (bad JSON, a body too large, an unknown route) get the nearest shoal code, so a
 * client always reads `error.code` from one list (docs/errors.md).
 */
import { ShoalError, type ErrorCode } from '../index.js';

const STATUS: Record<ErrorCode, number> = {
  SHOAL_INVALID_ARGUMENT: 400,
  SHOAL_DIMENSION_MISMATCH: 400,
  SHOAL_INVALID_VECTOR: 400,
  SHOAL_INVALID_LABEL: 400,
  SHOAL_INVALID_METADATA: 400,
  SHOAL_INVALID_FILTER: 400,
  SHOAL_NOT_FOUND: 404,
  SHOAL_ALREADY_EXISTS: 409,
  SHOAL_ABORTED: 408,
  // The budget or the process is out of room now: a retry later may succeed.
  SHOAL_BUDGET_EXCEEDED: 503,
  SHOAL_OUT_OF_MEMORY: 503,
  SHOAL_CLOSED: 503,
  SHOAL_CAPACITY_EXCEEDED: 507,
  SHOAL_LOCKED: 423,
  SHOAL_CORRUPT: 500,
  SHOAL_NOT_A_SEGMENT: 500,
  SHOAL_UNSUPPORTED_VERSION: 500,
  SHOAL_IO: 500,
  SHOAL_INTERNAL: 500,
};

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
}

export function httpError(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof ShoalError) {
    return { status: STATUS[err.code] ?? 500, body: { error: { code: err.code, message: err.message, details: err.details } } };
  }
  const e = err as { statusCode?: unknown; message?: unknown; code?: unknown };
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // Fastify's own 4xx (malformed JSON, body too large, wrong content type) are bad requests.
  const code: ErrorCode = status === 404 ? 'SHOAL_NOT_FOUND' : status >= 400 && status < 500 ? 'SHOAL_INVALID_ARGUMENT' : 'SHOAL_INTERNAL';
  return { status, body: { error: { code, message, ...(typeof e?.code === 'string' ? { details: { httpCode: e.code } } : {}) } } };
}

/** Types of settle.mjs (plain JS shared with child-process fixtures). */
export function settleWithin<T>(promise: Promise<T> | T, ms: number, label: string): Promise<T>;
export function outcome(call: Promise<unknown> | (() => unknown), ms: number): Promise<string>;
export function describeError(err: unknown): string;

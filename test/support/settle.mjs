// Bounded waits for tests of code that may deadlock: a hang becomes a clear failure naming the
// call, never a test (or a whole suite) that waits forever. Plain JS, so child-process fixtures
// and the model runner share it with the TypeScript tests.

/** Rejects with a 'hang: <label> did not settle within <ms> ms' error if `promise` takes longer. */
export function settleWithin(promise, ms, label) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${label} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([Promise.resolve(promise), deadline]).finally(() => clearTimeout(timer));
}

/**
 * How a call ended, as a short comparable string: 'ok', 'hang', or 'rejected <ErrorName>
 * <code>' (e.g. 'rejected IoError SHOAL_IO'; untyped errors show as 'rejected Error EACCES').
 * A synchronous throw counts as a rejection.
 */
export async function outcome(call, ms) {
  let promise;
  try {
    promise = typeof call === 'function' ? call() : call;
  } catch (err) {
    return describeError(err);
  }
  let timer;
  const hang = new Promise((resolve) => {
    timer = setTimeout(() => resolve('hang'), ms);
  });
  try {
    return await Promise.race([Promise.resolve(promise).then(() => 'ok', describeError), hang]);
  } finally {
    clearTimeout(timer);
  }
}

export function describeError(err) {
  if (err === null || typeof err !== 'object') return `rejected ${String(err)}`;
  const name = err.name ?? err.constructor?.name ?? 'Error';
  return `rejected ${name} ${err.code ?? ''}`.trimEnd();
}

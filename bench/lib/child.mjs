/**
 * Runs a measurement in a fresh Node process, so that none inherits another's heap, allocator
 * arenas, JIT state or worker threads. The child prints its result as its last stdout line, in
 * JSON; stderr passes through (progress).
 */
import { spawn } from 'node:child_process';

/**
 * Resolves with the parsed last stdout line of `node ...args`; rejects, naming `label`, if the
 * child fails to start, exits non-zero or prints nothing.
 */
export function runJsonChild(args, { label, env } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], ...(env ? { env } : {}) });
    let stdout = '';
    proc.stdout.on('data', (chunk) => (stdout += chunk));
    proc.on('error', reject);
    proc.on('close', (status) => {
      const last = stdout.trim().split('\n').pop();
      if (status !== 0 || !last) reject(new Error(`child ${label ?? args.join(' ')} exited with ${status}`));
      else {
        try {
          resolve(JSON.parse(last));
        } catch (err) {
          reject(new Error(`child ${label ?? args.join(' ')}: its last line is not JSON: ${err.message}`));
        }
      }
    });
  });
}

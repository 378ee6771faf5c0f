// Issue 12, F5: adds to a collection still in flight when it is deleted and re-created under the
// same name must never show up in the new collection: not while the process runs, and not after
// a SIGKILL when recovery replays the log.
import { spawn } from 'node:child_process';

import { afterAll, describe, expect, it } from 'vitest';

import { NotFoundError, Shoal } from '../../src/index.js';
import { tempDir } from '../support/db.js';
import { settleWithin } from '../support/settle.mjs';
// @ts-expect-error: a plain .mjs fixture shared with the child process
import { ids, row, vectors } from '../fixtures/lifecycle-child.mjs';
import { nodeCommand } from '../support/node.js';

const CHILD = new URL('../fixtures/lifecycle-child.mjs', import.meta.url).pathname;
const BOUND_MS = 10_000;
const dir = tempDir('shoal-ghost-');
afterAll(() => dir.remove());

/** Runs the scenario until it prints 'ready', then SIGKILLs it; resolves with its result line. */
function runThenKill(path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(...nodeCommand([CHILD, 'ghostWrites', path, 'wait']), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SHOAL_HANG_MS: String(BOUND_MS) },
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hang: the writer did not report within 60 s; stdout: ${stdout.slice(-500)}`));
    }, 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('\nready\n') && child.exitCode === null) child.kill('SIGKILL');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('result '));
      if (signal !== 'SIGKILL' || line === undefined) reject(new Error(`writer exited with ${code ?? signal}: ${stderr.slice(-1500)}`));
      else resolve(JSON.parse(line.slice('result '.length)) as Record<string, unknown>);
    });
  });
}

describe('writes to a deleted collection (issue 12, F5)', () => {
  it('an add in flight to the old x never reaches the new x, before or after a SIGKILL and recovery', async () => {
    const live = await runThenKill(dir.path);
    // While the process ran: the new x holds its own 200 ids and nothing else.
    expect(live).toMatchObject({ delete: 'ok', create: 'ok', add: 'ok', count: 200, foreignInQuery: 0, ghostGet: 'rejected NotFoundError SHOAL_NOT_FOUND' });
    for (const o of live['oldAdds'] as string[]) expect(['ok', 'rejected NotFoundError SHOAL_NOT_FOUND']).toContain(o);

    const db = await settleWithin(Shoal.open({ path: dir.path, threads: 1, warmStart: false }), BOUND_MS, 'open');
    try {
      const x = db.getCollection('x');
      expect(await x.count()).toBe(200);
      const fresh = (vectors as (n: number, dim: number, seed: number) => Float32Array)(200, 8, 13);
      const newIds = (ids as (p: string, n: number) => string[])('new', 200);
      const got = await settleWithin(x.get(newIds), BOUND_MS, 'get new');
      expect(got.vectors.map((v) => Array.from(v))).toEqual(newIds.map((_, i) => (row as (f: Float32Array, d: number, i: number) => number[])(fresh, 8, i)));
      for (const ghost of ['ghost0-0', 'ghost5-999', 'ghost9-1999', 'old-0']) {
        await expect(settleWithin(x.get([ghost]), BOUND_MS, `get ${ghost}`)).rejects.toBeInstanceOf(NotFoundError);
      }
      const hits = await settleWithin(x.query((vectors as (n: number, d: number, s: number) => Float32Array)(20, 8, 14), { k: 10 }), BOUND_MS, 'query');
      expect(hits.flatMap((h) => h.ids).filter((id) => !id.startsWith('new-'))).toEqual([]);
    } finally {
      await settleWithin(db.close(), BOUND_MS, 'close');
    }
  }, 120_000);
});

// Opening and closing: a close that comes while the worker threads are still starting must
// wait for them, not abort the process (seen on Node 20.20: V8's "IsGraphAsync must be used on
// an instantiated module", and node-addon-api's "terminate called after throwing Napi::Error").
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { nodeCommand } from '../support/node.js';

const CHILD = new URL('../fixtures/open-close.mjs', import.meta.url).pathname;

describe('open and close', () => {
  it('close at any moment of the worker threads\' start-up never aborts the process (80 rounds)', () => {
    const seed = Date.now() % 1_000_000;
    const r = spawnSync(...nodeCommand([CHILD, '80', '80', String(seed)]), { encoding: 'utf8', timeout: 50_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.slice(-1500), seed }).toEqual({
      status: 0, signal: null, stdout: 'ok\n', stderr: '', seed,
    });
  }, 60_000);
});

// Issue 12, F8: after the log fails, flush() still saves the in-memory state to segment files
// (docs/errors.md, SHOAL_IO), then reports the log's error. The log is made to fail for real:
// the writer runs under a file-size limit, so an append past it gets EFBIG.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { Shoal } from '../../src/index.js';
import { tempDir } from '../support/db.js';

const CHILD = fileURLToPath(new URL('../fixtures/log-failure.mjs', import.meta.url));
const LIMIT_KIB = 256;

describe('a failed write-ahead log', () => {
  it('F8: flush() still saves the in-memory state, then reports the log error; a reopen has it', async () => {
    const dir = tempDir('shoal-logfail-');
    // ulimit -f counts 1024-byte blocks in bash; SIGXFSZ ignored, so the write gets EFBIG
    // instead of the process being killed.
    const run = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f ${LIMIT_KIB}; exec "${process.execPath}" "${CHILD}" "${dir.path}"`], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const line = run.stdout.split('\n').find((l) => l.startsWith('result '));
    expect(line, run.stderr.slice(-2000)).toBeDefined();
    const result = JSON.parse((line as string).slice('result '.length)) as {
      acknowledged: number;
      failed: { value: number; code: string } | null;
      flush: string;
      health: unknown;
    };
    expect(result.failed?.code).toBe('SHOAL_IO');
    expect(result.acknowledged).toBeGreaterThan(10);
    // The flush saved the shards but still reports that the log is broken.
    expect(result.flush).toBe('rejected IoError SHOAL_IO');
    // An operator sees it: health is critical with the log named.
    expect(result.health).toEqual({ status: 'critical', reasons: [expect.stringContaining('write-ahead log failed')] });

    const db = await Shoal.open({ path: dir.path, threads: 1 });
    const col = db.getCollection('c');
    expect(await col.count()).toBe(40);
    const got = await col.get(['id-0', 'id-39']);
    // The failed upsert was applied in memory before its log record failed: the flush kept it,
    // so the reopened files hold its values, not only the last acknowledged ones.
    const failedValue = (result.failed as { value: number }).value;
    expect(got.vectors[0]?.[0]).toBe(failedValue);
    expect(got.vectors[1]?.[0]).toBeCloseTo(failedValue + 0.039, 5);
    await db.close();
    dir.remove();
  }, 90_000);
});

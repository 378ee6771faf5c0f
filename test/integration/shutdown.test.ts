// db.closeOnSignals in a real HTTP application (a child process): on SIGTERM the server stops
// accepting and drains before the database closes, so no request fails with 503; the
// application's own SIGTERM listener runs once (the signal is not raised again while it
// exists); the process exits by itself with status 0 and the database was closed cleanly.
import { spawn } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { Shoal } from '../../src/index.js';
import { tempDir } from '../support/db.js';

const APP = new URL('../fixtures/shutdown-app.mjs', import.meta.url).pathname;

describe('closeOnSignals in an HTTP application', () => {
  it('drains the server before closing the database and runs the app\'s own SIGTERM listener once', async () => {
    const dir = tempDir();
    try {
      const child = spawn(process.execPath, [APP, dir.path], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /listening (\d+)/.exec(stdout);
          if (m !== null) resolve(Number(m[1]));
        });
        child.on('exit', () => reject(new Error(`child exited early: ${stderr}`)));
      });
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

      // Eight clients send requests back to back; the signal goes once 200 have been answered,
      // and each client stops at its first connection error (the server no longer accepts).
      const statuses = new Map<number, number>();
      let answered = 0;
      let signalled = false;
      const client = async (): Promise<void> => {
        for (;;) {
          let status: number;
          try {
            const res = await fetch(`http://127.0.0.1:${port}/`);
            await res.text();
            status = res.status;
          } catch {
            return;
          }
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (++answered === 200 && !signalled) {
            signalled = true;
            child.kill('SIGTERM');
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, client));
      const end = await exited;

      expect({ statuses: Object.fromEntries(statuses), end, appHandlerRuns: stdout.split('\n').filter((l) => l === 'app handler').length })
        .toEqual({ statuses: { 200: answered }, end: { code: 0, signal: null }, appHandlerRuns: 1 });
      expect(stdout).toContain('exit 0');
      expect(answered).toBeGreaterThanOrEqual(200);

      // Closed cleanly: the lock is free, the data is there, and nothing is left to replay.
      const db = await Shoal.open({ path: dir.path, warmStart: false });
      expect({ count: await db.getCollection('docs').count(), replayed: db.recovery.replayedRecords }).toEqual({ count: 100, replayed: 0 });
      await db.close();
    } finally {
      dir.remove();
    }
  }, 30_000);
});

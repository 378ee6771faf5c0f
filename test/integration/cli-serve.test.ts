// `shoal serve` and `shoal monitor` as an operator runs them: the built command in a child
// process on a real data directory. Config reload on SIGHUP (a good file applied without
// dropping the cache, a bad one reported and changing nothing), monitor against the server's
// URL and against the directory once closed, SIGTERM.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { tempDir } from '../support/db.js';

const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;

/** Collects a child's output; `until(re)` resolves when it has printed a match (after `from`). */
function watch(child: ChildProcessWithoutNullStreams) {
  let out = '';
  const waiters: (() => void)[] = [];
  const feed = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.on('data', feed);
  child.stderr.on('data', feed);
  const until = async (re: RegExp, from = 0): Promise<RegExpExecArray> => {
    for (;;) {
      const m = re.exec(out.slice(from));
      if (m !== null) return m;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited before printing ${re}: ${out}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { until, get text() { return out; } };
}

const json = async (url: string, body?: unknown): Promise<any> => {
  const res = await fetch(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.json();
};

describe('shoal serve and shoal monitor', () => {
  it('serves on 127.0.0.1, reloads its config on SIGHUP, is monitored by URL and by directory, and stops on SIGTERM', async () => {
    const dir = tempDir();
    const data = join(dir.path, 'data');
    const config = join(dir.path, 'shoal.json');
    writeFileSync(config, JSON.stringify({ memoryLimitBytes: '64MB', threads: 2 }));
    const child = spawn(process.execPath, [MAIN, 'serve', data, '--port', '0', '--config', config], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = watch(child);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      const [, base] = await out.until(/serving .* on (http:\/\/127\.0\.0\.1:\d+)/) as unknown as [string, string];
      await json(`${base}/v1/collections`, { name: 'docs', dim: 4, shards: 2 });
      await json(`${base}/v1/collections/docs/add`, { ids: ['a', 'b', 'c'], vectors: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]] });
      const before = (await json(`${base}/v1/stats`)).stats.collections[0];
      expect(before.residentShards).toBeGreaterThan(0);

      // A good file: applied through db.configure, observers told, the cache kept.
      writeFileSync(config, JSON.stringify({ memoryLimitBytes: '48MB', thresholds: { soft: 0.7 }, evictionTarget: 0.6 }));
      let mark = out.text.length;
      child.kill('SIGHUP');
      await out.until(/SIGHUP: applied/, mark);
      expect(out.text.slice(mark)).toMatch(/reconfigured: memoryLimitBytes 48000000, thresholds \{"soft":0.7,"hard":0.93,"emergency":0.98\}/);
      const after = await json(`${base}/v1/stats`);
      expect(after.config).toMatchObject({ memoryLimitBytes: 48_000_000, thresholds: { soft: 0.7 }, evictionTarget: 0.6 });
      expect(after.stats.collections[0].residentShards).toBe(before.residentShards);
      expect(after.stats.evictions.reconfigure).toBe(0);

      // Bad files: reported, nothing changes.
      for (const bad of ['{"memoryLimitBytes": "lots"}', '{"memoryLimitBytes": ', '{"memoryLimit": "1GB"}']) {
        writeFileSync(config, bad);
        mark = out.text.length;
        child.kill('SIGHUP');
        await out.until(/not applied, the settings in force are unchanged: .+/, mark);
      }
      expect(out.text).toContain('unknown setting "memoryLimit"');
      expect((await json(`${base}/v1/stats`)).config.memoryLimitBytes).toBe(48_000_000);

      const frame = spawnSync(process.execPath, [MAIN, 'monitor', base, '--once'], { encoding: 'utf8', timeout: 20_000 });
      expect(frame.status).toBe(0);
      expect(frame.stdout).toMatch(/health: ok/);
      expect(frame.stdout).toMatch(/memory {3}\[#*[.|]+\] [\d.]+ MiB \/ 45\.8 MiB/);
      expect(frame.stdout).toMatch(/^docs +3 +\d\/2 /m);

      const locked = spawnSync(process.execPath, [MAIN, 'monitor', data], { encoding: 'utf8', timeout: 20_000 });
      expect({ status: locked.status, stderr: locked.stderr }).toEqual({ status: 1, stderr: expect.stringContaining('is open in another process') });

      child.kill('SIGTERM');
      // No other SIGTERM listener in the command: the signal is raised again once closed.
      expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
      expect(out.text).toContain('SIGTERM: stopping');

      const facts = spawnSync(process.execPath, [MAIN, 'monitor', data], { encoding: 'utf8', timeout: 20_000 });
      expect(facts.status).toBe(0);
      expect(facts.stdout).toMatch(/^docs +3 +4 +l2 +2 +medium /m);
      expect(facts.stdout).toContain('log replayed at open: 0 records');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      dir.remove();
    }
  }, 60_000);

  it('exits 2 with the usage on a bad command line', () => {
    for (const args of [['serve'], ['serve', 'a', 'b'], ['serve', 'x', '--port', 'http'], ['monitor'], ['monitor', 'http://x', '--interval', '5'], ['no-such-command']]) {
      const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 20_000 });
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(/usage: shoal/i);
    }
  });
});

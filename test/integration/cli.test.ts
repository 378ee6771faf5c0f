// The shoal command, run as users run it: `node dist/cli/main.js ...` in a child process
// against real data directories. stats reads without writing, verify finds a damaged byte in
// every kind of file, export/import round-trip, backup makes a copy that verifies and opens.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { Shoal } from '../../src/index.js';
import { runChild } from '../support/child.js';
import { listFiles, tempDirsPerTest } from '../support/db.js';

const dir = tempDirsPerTest();
const root = fileURLToPath(new URL('../..', import.meta.url));
const main = join(root, 'dist/cli/main.js');
const writer = join(root, 'test/fixtures/cli-writer.mjs');
const holder = join(root, 'test/fixtures/hold-lock.mjs');

function shoal(args: readonly string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 60_000, ...(input === undefined ? {} : { input }) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A data directory with saved files and two writes only in the log (cli-writer.mjs). */
async function dataDir(): Promise<string> {
  const path = join(dir(), 'data');
  await runChild(writer, [path], 60_000);
  return path;
}

/** Every file's bytes and mtime: what "writes nothing" must leave equal. */
function snapshot(path: string): Record<string, string> {
  return Object.fromEntries(listFiles(path).map((f) => [f, `${readFileSync(join(path, f)).toString('base64')}@${statSync(join(path, f)).mtimeMs}`]));
}

function flipByte(file: string, offset: number): void {
  const bytes = readFileSync(file);
  const at = offset < 0 ? bytes.length + offset : offset;
  bytes[at] = (bytes[at] as number) ^ 0x5a;
  writeFileSync(file, bytes);
}

describe('shoal command', () => {
  it('lists its commands, prints each one\'s usage, and refuses unknown commands and options with exit 2', () => {
    const help = shoal(['--help']);
    expect(help.code).toBe(0);
    for (const name of ['stats', 'verify', 'export', 'import', 'backup']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
      const usage = shoal([name, '--help']);
      expect(usage.code).toBe(0);
      expect(usage.stdout).toMatch(new RegExp(`^Usage: shoal ${name} `));
    }
    expect(shoal([]).code).toBe(2);
    const unknown = shoal(['frobnicate']);
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining('unknown command "frobnicate"')]);
    const bad = shoal(['stats', dir(), '--bogus']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining("Unknown option '--bogus'")]);
    expect(shoal(['export', dir()]).code).toBe(2); // missing COLLECTION
    expect(shoal(['verify', join(dir(), 'nope')]).code).toBe(2);
    expect(shoal(['--version']).stdout.trim()).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  });

  it('stats prints JSON of a closed directory and changes nothing; a directory open elsewhere is read too and named live', async () => {
    const path = await dataDir();
    const before = snapshot(path);
    const r = shoal(['stats', path]);
    expect(r.code).toBe(0);
    expect(snapshot(path)).toEqual(before);
    const facts = JSON.parse(r.stdout);
    expect(facts.live).toBeNull();
    expect(facts.collections.map((c: { name: string }) => c.name)).toEqual(['docs', 'empty']);
    const docs = facts.collections[0];
    expect(docs).toMatchObject({ name: 'docs', count: 400, dim: 8, space: 'l2', shards: 2, M: 8, efConstruction: 40, unflushedWrites: 1, failure: null });
    const files = listFiles(path).filter((f) => f.startsWith('collections/docs/'));
    expect(docs.bytesOnDisk).toBe(files.reduce((n, f) => n + statSync(join(path, f)).size, 0));
    expect(facts.collections[1]).toMatchObject({ name: 'empty', count: 0, dim: 3, space: 'cosine', bytesOnDisk: 0 });
    expect(facts.log.records).toBe(1); // the late add: the first one was saved and its log file removed

    // Held open by another process: still read, without waiting for or taking the lock.
    const child = spawn(process.execPath, [holder, path], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((ready) => child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && ready()));
      const live = shoal(['stats', path]);
      expect(live.code).toBe(0);
      expect(JSON.parse(live.stdout).live).toEqual({ pid: child.pid });
      const refused = shoal(['verify', path]);
      expect([refused.code, refused.stderr]).toEqual([3, expect.stringContaining(`open in process ${child.pid}`)]);
      expect(shoal(['export', path, 'docs']).code).toBe(3);
    } finally {
      child.kill('SIGKILL');
      await new Promise((done) => child.on('exit', done));
    }
  });

  it('verify passes a healthy directory and names the damaged file when one byte of a segment, id, log or manifest file is changed', async () => {
    const path = await dataDir();
    const ok = shoal(['verify', path]);
    expect([ok.code, ok.stdout]).toEqual([0, expect.stringContaining('healthy')]);
    const docs = readdirSync(join(path, 'collections/docs'));
    const seg = `collections/docs/${docs.find((f) => f.endsWith('.seg'))}`;
    const ids = `collections/docs/${docs.find((f) => f.endsWith('.ids'))}`;
    const log = `wal/${readdirSync(join(path, 'wal')).filter((f) => statSync(join(path, 'wal', f)).size > 0)[0]}`;
    const cases: [string, number, RegExp][] = [
      [seg, 600, /checksum/i], // inside the payload
      [seg, 20, /checksum/i], // inside the header (the space field)
      [ids, -3, /checksum/i],
      [log, 40, /not whole records/],
      ['MANIFEST', -5, /checksum/i],
    ];
    for (const [file, offset, why] of cases) {
      const copy = join(dir(), 'damaged');
      cpSync(path, copy, { recursive: true });
      flipByte(join(copy, file), offset);
      const r = shoal(['verify', copy]);
      expect(r.code, `${file} @ ${offset}: ${r.stdout}`).toBe(1);
      const line = r.stdout.split('\n').find((l) => l.startsWith(`DAMAGED ${file}:`));
      expect(line, r.stdout).toMatch(why);
      const json = JSON.parse(shoal(['verify', copy, '--json']).stdout);
      expect(json.healthy).toBe(false);
      expect(json.problems.map((p: { file: string }) => p.file)).toContain(file);
    }
  });

  it('export and import round-trip a collection bit for bit, through files and stdin/stdout', async () => {
    const path = await dataDir();
    const out = join(dir(), 'docs.jsonl');
    expect(shoal(['export', path, 'docs', '--out', out, '--batch-size', '64']).code).toBe(0);
    const viaStdout = shoal(['export', path, 'docs']);
    expect(viaStdout.code).toBe(0);
    expect(viaStdout.stdout.split('\n').slice(1)).toEqual(readFileSync(out, 'utf8').split('\n').slice(1));
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(1 + 402);

    const target = join(dir(), 'target');
    expect(shoal(['import', target, 'copy', out]).code).toBe(0);
    expect(shoal(['import', target, 'piped', '-', '--shards', '3'], readFileSync(out, 'utf8')).code).toBe(0);
    const again = shoal(['import', target, 'copy', out]);
    expect([again.code, again.stderr]).toEqual([1, expect.stringContaining('SHOAL_ALREADY_EXISTS')]);

    const db = await Shoal.open({ path: target, threads: 1 });
    const source = await Shoal.open({ path, threads: 1 });
    const ids = [...Array.from({ length: 400 }, (_, i) => `doc-${i}`), 'late-1', 'late-2'];
    const want = await source.getCollection('docs').get(ids);
    for (const name of ['copy', 'piped']) {
      const got = await db.getCollection(name).get(ids);
      expect(got.vectors.map((v) => Array.from(new Uint32Array(v.slice().buffer)))).toEqual(want.vectors.map((v) => Array.from(new Uint32Array(v.slice().buffer))));
    }
    expect(db.getCollection('piped').shardCount).toBe(3);
    await source.close();
    await db.close();
  });

  it('backup writes a copy that verifies and opens with every write, the logged ones included', async () => {
    const path = await dataDir();
    const dest = join(dir(), 'backup');
    const r = shoal(['backup', path, dest]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ path: dest, collections: 2 });
    expect(r.stderr).toContain('backup 100%');
    expect(shoal(['verify', dest]).code).toBe(0);
    const notEmpty = shoal(['backup', path, dest]);
    expect([notEmpty.code, notEmpty.stderr]).toEqual([1, expect.stringContaining('must be a new or empty directory')]);
    const copy = await Shoal.open({ path: dest, threads: 1 });
    expect(await copy.getCollection('docs').count()).toBe(402);
    expect(copy.listCollections()).toEqual(['docs', 'empty']);
    await copy.close();
  });
});

// Smoke test of the benchmark runner (bench/run.mjs): every scenario on tiny sizes, in a child
// process, into a temporary directory. Checks that each scenario wrote its results file (no
// failed child) and that the report and the SVG charts exist. Asserts nothing about timing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SCENARIOS = ['recall', 'segment', 'collection', 'tenants', 'reload', 'accounting', 'eventloop', 'singles', 'scaling', 'durability', 'backup', 'serving', 'memory', 'filtered'];
let out = '';
let status: number | null = null;
let stderr = '';
const read = (name: string) => JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8'));

beforeAll(() => {
  out = mkdtempSync(join(os.tmpdir(), 'shoal-bench-smoke-'));
  const r = spawnSync(process.execPath, [join(root, 'bench/run.mjs'), '--smoke', `--out=${out}`], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  status = r.status;
  stderr = r.stderr;
}, 250_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('bench/run.mjs --smoke', () => {
  it('exits 0', () => {
    expect(status, stderr.slice(-3000)).toBe(0);
  });

  it.each(SCENARIOS)('scenario %s wrote machine facts and its command, nothing failed', (name) => {
    const data = read(name);
    expect(data.command).toBe(`node bench/run.mjs ${name} --smoke --out=${out}`);
    expect(data.machine.cores).toBeGreaterThan(0);
    expect(data.machine.node).toBe(process.version);
    expect(typeof data.machine.cpuModel).toBe('string');
    expect(Number.isNaN(Date.parse(data.machine.date))).toBe(false);
    expect((data.rows ?? []).filter((r: { error?: string }) => r.error)).toEqual([]);
  });

  it('recall rows cover every contender with a recall per ef; usearch searched in batches', () => {
    const rows = read('recall').rows;
    expect(rows.map((r: { contender: string }) => r.contender).sort()).toEqual(['hnswlib-node', 'shoal t1', 'shoal t2', 'usearch']);
    for (const r of rows) for (const x of r.rows) expect(x.recall).toBeGreaterThan(0.5);
    const us = rows.find((r: { contender: string }) => r.contender === 'usearch');
    for (const x of us.rows) {
      expect(x.threads).toBe(os.availableParallelism());
      expect(x.qpsSingle).toBeGreaterThan(0);
    }
  });

  it('segment and collection measured shoal against hnswlib-node', () => {
    const seg = read('segment').results;
    expect(seg.map((r: { engine: string }) => r.engine).sort()).toEqual(['hnswlib-node', 'shoal']);
    for (const r of seg) for (const x of r.search.rows) expect(x.recall).toBeGreaterThan(0.5);
    const col = read('collection').results;
    expect(col.map((r: { engine: string }) => r.engine).sort()).toEqual(['hnswlib-node', 'shoal']);
    const shoal = col.find((r: { engine: string }) => r.engine === 'shoal');
    // Per-shard figures come from col.stats(): both shards resident, every vector counted once.
    expect(shoal.memory.shards).toHaveLength(2);
    expect(shoal.memory.shards.reduce((a: number, s: { count: number }) => a + s.count, 0)).toBe(shoal.n);
    for (const s of shoal.memory.shards) expect(s.capacity).toBeGreaterThanOrEqual(s.count);
  });

  it('tenants ran shoal at every budget, the naive baseline at three, and the reload', () => {
    const data = read('tenants');
    const labels = data.runs.map((r: { label: string }) => r.label);
    for (const l of ['unbudgeted', '100 %', '50 %', '25 %', '125 % (extra)', 'unbudgeted, no sampler', '100 %, no sampler']) expect(labels).toContain(l);
    expect(data.naive.runs.map((r: { fraction: number }) => r.fraction)).toEqual([1, 0.5, 0.25]);
    for (const r of [...data.runs, ...data.naive.runs]) expect(r.latencyMs.count).toBe(data.scenario.queries);
    expect(data.size.usedBytes).toBeGreaterThan(0);
    expect(data.reload.loadMBps).toBeGreaterThan(0);
  });

  it('backup: the copy and the import hold every record bit for bit, and the backup every write acknowledged before it', () => {
    const data = read('backup');
    expect(data.backup.mismatches).toBe(0);
    expect(data.backup.ackedBeforeCall).toBeGreaterThan(0);
    expect(data.backup.missingAcked).toBe(0);
    expect(data.backup.presentAfter).toBe(0);
    expect(data.exportImport.mismatches).toBe(0);
    expect(data.exportImport.importedCount).toBe(data.exportImport.sourceCount);
  });

  it('durability measured every mode, recovered every logged vector, and restarted both ways', () => {
    const data = read('durability');
    expect(new Set(data.ingestRows.map((r: { durability: string }) => r.durability))).toEqual(new Set(['fsync', 'none', 'unlogged']));
    expect(data.recovery.recovered).toBe(data.recovery.vectors);
    expect(data.restarts.map((r: { warmStart: boolean }) => r.warmStart)).toEqual([true, false]);
  });

  it('filtered measured every selectivity: every result matched, none short of k', () => {
    const [r] = read('filtered').rows;
    expect(r.rows.map((x: { selectivity: number }) => x.selectivity)).toEqual([1, 0.01, 0.02, 0.1, 0.26, 0.5, 0.9]);
    for (const x of r.rows) {
      expect(x.allMatch).toBe(true);
      expect(x.short).toBe(0);
      expect(x.recall).toBeGreaterThan(0.5);
    }
    expect(r.ingest.metadataSeconds).toBeGreaterThan(0);
  });

  it('wrote the report with a section per scenario, and the SVG charts', () => {
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report.match(/^## \d+\. /gm)).toHaveLength(SCENARIOS.length);
    for (const f of ['recall-tiny.svg', 'filtered-sift1k.svg', 'tenants-memory-100.svg', 'tenants-memory-50.svg', 'tenants-memory-25.svg', 'tenants-latency.svg', 'accounting.svg']) {
      expect(existsSync(join(out, f)), f).toBe(true);
      expect(readFileSync(join(out, f), 'utf8')).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
      expect(report).toContain(`](${f})`);
    }
    expect(readFileSync(join(out, 'tenants-memory-50.svg'), 'utf8')).toContain('stroke-dasharray="6 4"');
  });
});

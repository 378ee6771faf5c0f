// Smoke test of the benchmark harness (bench/run.mjs): every scenario on tiny sizes, in a child
// process, into a temporary directory. Checks that each scenario wrote its JSON rows (no failed
// child) and that the report and the SVG charts exist. Asserts nothing about timing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SCENARIOS = ['recall', 'tenants', 'reload', 'accounting', 'eventloop'];
let out = '';
let status: number | null = null;
let stderr = '';

beforeAll(() => {
  out = mkdtempSync(join(os.tmpdir(), 'shoal-bench-smoke-'));
  const r = spawnSync(process.execPath, [join(root, 'bench/run.mjs'), '--smoke', `--out=${out}`], { cwd: root, encoding: 'utf8', timeout: 55_000 });
  status = r.status;
  stderr = r.stderr;
}, 60_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('bench/run.mjs --smoke', () => {
  it('exits 0', () => {
    expect(status, stderr.slice(-2000)).toBe(0);
  });

  it.each(SCENARIOS)('scenario %s wrote machine facts and rows, none failed', (name) => {
    const data = JSON.parse(readFileSync(join(out, `bench-${name}.json`), 'utf8'));
    expect(data.machine.cores).toBeGreaterThan(0);
    expect(data.machine.node).toBe(process.version);
    expect(typeof data.machine.cpuModel).toBe('string');
    expect(Number.isNaN(Date.parse(data.machine.date))).toBe(false);
    expect(data.rows.length).toBeGreaterThan(0);
    expect(data.rows.filter((r: { error?: string }) => r.error)).toEqual([]);
  });

  it('recall rows cover every contender with a recall per ef', () => {
    const rows = JSON.parse(readFileSync(join(out, 'bench-recall.json'), 'utf8')).rows;
    expect(rows.map((r: { contender: string }) => r.contender).sort()).toEqual(['hnswlib-node', 'shoal t1', 'shoal t2', 'usearch']);
    for (const r of rows) for (const x of r.rows) expect(x.recall).toBeGreaterThan(0.5);
  });

  it('tenants ran shoal and the naive baseline at every budget', () => {
    const rows = JSON.parse(readFileSync(join(out, 'bench-tenants.json'), 'utf8')).rows.filter((r: { kind: string }) => r.kind === 'run');
    expect(rows).toHaveLength(6);
    for (const r of rows) expect(r.samples.length).toBeGreaterThan(0);
  });

  it('wrote the report and the SVG charts', () => {
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    for (const f of ['recall-tiny.svg', 'tenants-memory-100.svg', 'tenants-memory-50.svg', 'tenants-memory-25.svg', 'tenants-latency.svg', 'accounting.svg']) {
      expect(existsSync(join(out, f)), f).toBe(true);
      expect(readFileSync(join(out, f), 'utf8')).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
      expect(report).toContain(`](${f})`);
    }
    expect(readFileSync(join(out, 'tenants-memory-50.svg'), 'utf8')).toContain('stroke-dasharray="6 4"');
  });
});

/**
 * One benchmark harness: `npm run bench` (all scenarios), `npm run bench -- --scenario NAME[,NAME]`,
 * `--smoke` (tiny sizes, for test/bench/smoke.test.ts), `--full` (larger sizes), `--out=DIR`
 * (default bench/results, or bench/results/smoke with --smoke), `--report` (re-render report.md
 * from the JSON already in DIR; runs nothing).
 *
 * Every task of every scenario runs in its own child process (`--child SCENARIO JSON`) so memory
 * figures are clean; each child prints one JSON line. Per scenario the parent writes
 * DIR/bench-<scenario>.json (machine facts + rows), then renders DIR/report.md and the SVG charts
 * from every bench-*.json in DIR. Uses ../dist/: run `npx tsc -p tsconfig.build.json` first.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runJsonChild } from './lib/child.mjs';
import { gitCommit } from './lib/git.mjs';
import { hostFacts } from './lib/host.mjs';

const SELF = fileURLToPath(import.meta.url);
const SCENARIOS = { recall: './harness/recall.mjs', tenants: './harness/tenants.mjs', reload: './harness/reload.mjs', accounting: './harness/accounting.mjs', eventloop: './harness/eventloop.mjs' };
const TITLES = { recall: '1. recall vs speed', tenants: '2. many tenants', reload: '3. unload/reload', accounting: '4. accounting', eventloop: '5. event loop' };
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return fallback;
  return args[i].includes('=') ? args[i].slice(name.length + 3) : args[i + 1];
};
const load = (name) => import(SCENARIOS[name]);

function machine() {
  const req = createRequire(import.meta.url);
  const v = (p) => {
    try {
      return JSON.parse(readFileSync(new URL(`../node_modules/${p}/package.json`, import.meta.url), 'utf8')).version;
    } catch {
      return null;
    }
  };
  return {
    ...hostFacts(),
    totalMemGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    commit: gitCommit(),
    versions: { shoal: req('../package.json').version, 'hnswlib-node': v('hnswlib-node'), usearch: v('usearch'), 'lru-cache': v('lru-cache') },
  };
}

function runChild(scenario, cfg) {
  // A failed task becomes an error row: the other tasks and the report still run.
  return runJsonChild(['--expose-gc', SELF, '--child', scenario, JSON.stringify(cfg)], { label: `${scenario} ${JSON.stringify(cfg).slice(0, 200)}` }).catch(
    (err) => ({ error: err.message }),
  );
}

async function parent() {
  const smoke = args.includes('--smoke');
  const full = args.includes('--full');
  const outDir = opt('out', fileURLToPath(new URL(smoke ? './results/smoke/' : './results/', import.meta.url)));
  mkdirSync(outDir, { recursive: true });
  if (!args.includes('--report')) {
    const names = (opt('scenario', null)?.split(',') ?? Object.keys(SCENARIOS));
    for (const n of names) if (!SCENARIOS[n]) throw new Error(`unknown scenario ${n}; known: ${Object.keys(SCENARIOS).join(', ')}`);
    const tmp = mkdtempSync(join(os.tmpdir(), 'shoal-bench-'));
    const started = Date.now();
    const log = (m) => process.stderr.write(`[bench] ${m} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    try {
      for (const name of names) {
        const mod = await load(name);
        const t0 = Date.now();
        const rows = [];
        let first = null;
        for (const task of mod.tasks({ smoke, full, tmp })) {
          log(`${name}: ${task.label} ...`);
          const cfg = mod.passFirst && first ? { ...task.cfg, sizes: first } : task.cfg;
          const r = await runChild(name, cfg);
          if (r.error) log(`  FAILED: ${r.error}`);
          first ??= r;
          rows.push({ ...r, kind: cfg.kind, cfg: { ...cfg, sizes: undefined } });
        }
        mod.cleanup?.({ tmp });
        const seconds = (Date.now() - t0) / 1000;
        const command = `node bench/run.mjs ${args.join(' ')}`.trim();
        writeFileSync(join(outDir, `bench-${name}.json`), `${JSON.stringify({ scenario: name, smoke, full, command, seconds, machine: machine(), rows }, null, 2)}\n`);
        log(`${name}: done in ${seconds.toFixed(0)} s`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    log(`all done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  await writeReport(outDir);
}

async function writeReport(outDir) {
  const md = ['# shoal benchmarks', ''];
  const files = Object.keys(SCENARIOS).map((n) => [n, join(outDir, `bench-${n}.json`)]).filter(([, f]) => existsSync(f));
  if (files.length) {
    const m = JSON.parse(readFileSync(files[0][1], 'utf8')).machine;
    md.push(`- CPU: ${m.cpuModel}, ${m.cores} cores; ${m.os}; RAM ${m.totalMemGiB} GiB; Node ${m.node}`);
    md.push(`- versions: ${Object.entries(m.versions).map(([k, v]) => `${k} ${v}`).join(', ')}; commit ${m.commit}`);
    md.push('- every contender in its own child process; each scenario\'s raw rows are in bench-<scenario>.json next to this file', '');
  }
  for (const [name, file] of files) {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    const failed = data.rows.filter((r) => r.error);
    const ok = data.rows.filter((r) => !r.error);
    const { md: lines, charts } = (await load(name)).report(ok);
    md.push(...lines);
    md.push(`_Scenario ${TITLES[name]}: \`${data.command}\`, ${data.seconds.toFixed(0)} s, ${data.machine.date}${data.smoke ? ', smoke sizes' : data.full ? ', --full' : ''}._`, '');
    for (const f of failed) md.push(`- **FAILED**: ${f.error}`);
    if (failed.length) md.push('');
    for (const c of charts) writeFileSync(join(outDir, c.file), c.svg);
  }
  writeFileSync(join(outDir, 'report.md'), `${md.join('\n')}\n`);
  process.stderr.write(`[bench] wrote ${join(outDir, 'report.md')}\n`);
}

if (args[0] === '--child') {
  const mod = await load(args[1]);
  const r = await mod.child(JSON.parse(args[2]));
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
} else {
  await parent();
}

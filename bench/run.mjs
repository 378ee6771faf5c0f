/**
 * The benchmark runner, the only entry point; the scenarios are bench/scenarios/*.mjs (SCENARIOS):
 *
 *   npm run build && node bench/run.mjs [SCENARIO ...] [--smoke | --quick | --full] [--out=DIR]
 *     [--data=DIR] [scenario options, e.g. --tenants=20 --only=100,reload]
 *   node bench/run.mjs --report [--out=DIR]     # report.md and charts again from DIR's JSON
 *
 * No scenario named: all of them, in the order of SCENARIOS. Sizes: --smoke tiny (seconds, for
 * test/bench/smoke.test.ts), --quick a few minutes per scenario, default the sizes behind the
 * README's figures, --full larger where a scenario has more. --out: default bench/results, or
 * bench/results/smoke with --smoke. --data: a directory with siftsmall_*.fvecs/.ivecs (plain or
 * .gz; relative to the repository root) instead of test/fixtures/siftsmall.
 *
 * Every measurement runs in its own child process (`--child SCENARIO JSON`), so none inherits
 * another's heap, allocator arenas, JIT state or worker threads; each child prints one JSON line.
 * A scenario module (bench/scenarios/NAME.mjs) exports run(ctx), which spawns its children
 * through ctx.child and returns what it measured; child(cfg), which runs in the child; and
 * report(data), which turns the saved JSON into Markdown lines and SVG charts. The runner writes
 * DIR/NAME.json (machine facts, command, duration, data), then DIR/report.md from every NAME.json
 * in DIR.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runJsonChild } from './lib/child.mjs';
import { gitCommit } from './lib/git.mjs';
import { hostFacts } from './lib/host.mjs';

const SELF = fileURLToPath(import.meta.url);
/** Scenario -> section title, in run and report order. */
const SCENARIOS = {
  recall: 'recall vs speed, every contender',
  segment: 'raw index (Segment) against hnswlib-node',
  collection: 'collection through the pool: ingest, query, latency, event loop',
  tenants: 'many tenants under a memory budget',
  reload: 'unload/reload',
  accounting: 'memory accounting',
  eventloop: 'event loop under load',
  singles: 'single queries in flight against batched',
  scaling: 'thread scaling: shoal, usearch and hnswlib-node at 1, 2 and all threads',
  durability: 'durability: write-ahead log, recovery, warm start',
  backup: 'backup, export and import: round trips checked bit for bit',
  serving: 'serving: query throughput while /metrics is scraped',
  memory: 'process memory against the limit: peak RSS per workload',
  filtered: 'metadata filters inside the search: recall and QPS by selectivity, ingest cost',
};
const args = process.argv.slice(2);
const load = (name) => import(`./scenarios/${name}.mjs`);

/** --name=value and bare --flag (true) options; positional words are scenario names. */
function parseArgs(list) {
  const opts = {};
  const names = [];
  for (const a of list) {
    if (!a.startsWith('--')) names.push(a);
    else if (a.includes('=')) opts[a.slice(2, a.indexOf('='))] = a.slice(a.indexOf('=') + 1);
    else opts[a.slice(2)] = true;
  }
  if (typeof opts.scenario === 'string') names.push(...opts.scenario.split(','));
  return { names, opts };
}

function machine() {
  const req = createRequire(import.meta.url);
  // Read from node_modules directly: some packages' "exports" hide their package.json.
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

/** What each scenario's run() gets. */
function context(name, opts, tmp, started) {
  const log = (m) => process.stderr.write(`[${name}] ${m} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  // Children measure shoal's defaults: the caller's SHOAL_* settings stay out, except the
  // bench's own (SHOAL_BENCH_*) and the choice of binary.
  const keep = ([k]) => !k.startsWith('SHOAL_') || k.startsWith('SHOAL_BENCH_') || k === 'SHOAL_NATIVE_BINARY';
  const child = (cfg, { label, env = {}, flags = [] } = {}) =>
    runJsonChild(['--expose-gc', ...flags, SELF, '--child', name, JSON.stringify(cfg)], {
      label: label ?? `${name} ${JSON.stringify(cfg).slice(0, 200)}`,
      env: { ...Object.fromEntries(Object.entries(process.env).filter(keep)), ...env },
    });
  return {
    smoke: opts.smoke === true,
    quick: opts.quick === true,
    full: opts.full === true,
    opts,
    tmp,
    log,
    child,
    /**
     * Runs a list of { label, cfg } one child each, in order; a failed child becomes an error
     * row and the others still run. With passFirst, every later task gets the first result as
     * cfg.sizes (e.g. the bytes a build measured).
     */
    async runTasks(tasks, { passFirst = false } = {}) {
      const rows = [];
      let first = null;
      for (const task of tasks) {
        log(`${task.label} ...`);
        const cfg = passFirst && first ? { ...task.cfg, sizes: first } : task.cfg;
        const r = await child(cfg).catch((err) => ({ error: err.message }));
        if (r.error) log(`  FAILED: ${r.error}`);
        first ??= r;
        rows.push({ ...r, kind: cfg.kind, cfg: { ...cfg, sizes: undefined } });
      }
      return rows;
    },
  };
}

async function parent() {
  const { names: asked, opts } = parseArgs(args);
  const names = asked.length ? asked : Object.keys(SCENARIOS);
  for (const n of names) if (!SCENARIOS[n]) throw new Error(`unknown scenario ${n}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  // Children inherit it; lib/datasets.mjs resolves it against the repository root.
  if (typeof opts.data === 'string') process.env.SHOAL_BENCH_DATA = opts.data;
  const outDir = typeof opts.out === 'string' ? opts.out : fileURLToPath(new URL(opts.smoke ? './results/smoke/' : './results/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  if (opts.report !== true) {
    const started = Date.now();
    const failed = [];
    const flags = args.filter((a) => a.startsWith('--') && !a.startsWith('--scenario'));
    for (const name of names) {
      const mod = await load(name);
      const tmp = mkdtempSync(join(os.tmpdir(), `shoal-bench-${name}-`));
      const t0 = Date.now();
      try {
        const data = await mod.run(context(name, opts, tmp, started));
        const seconds = (Date.now() - t0) / 1000;
        const command = ['node bench/run.mjs', name, ...flags].join(' ');
        const file = { scenario: name, smoke: opts.smoke === true, quick: opts.quick === true, full: opts.full === true, command, seconds, ...data, machine: { ...machine(), ...data.machine } };
        writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(file, null, 2)}\n`);
        process.stderr.write(`[bench] ${name}: done in ${seconds.toFixed(0)} s\n`);
      } catch (err) {
        // One scenario failing must not lose the others' results; the exit status says it.
        failed.push(name);
        process.stderr.write(`[bench] ${name}: FAILED: ${err.stack ?? err}\n`);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    process.stderr.write(`[bench] all done in ${((Date.now() - started) / 1000).toFixed(0)} s${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}\n`);
    process.exitCode = failed.length ? 1 : 0;
  }
  await writeReport(outDir);
}

async function writeReport(outDir) {
  const md = ['# shoal benchmarks', ''];
  const files = Object.keys(SCENARIOS).map((n) => [n, join(outDir, `${n}.json`)]).filter(([, f]) => existsSync(f));
  if (files.length) {
    const m = JSON.parse(readFileSync(files[0][1], 'utf8')).machine;
    md.push(`- CPU: ${m.cpuModel}, ${m.cores} cores; ${m.os}; RAM ${Number(m.totalMemGiB).toFixed(1)} GiB; Node ${m.node}`);
    if (m.versions) md.push(`- versions: ${Object.entries(m.versions).map(([k, v]) => `${k} ${v}`).join(', ')}; commit ${m.commit}`);
    md.push("- every measurement in its own child process; each scenario's raw results are in <scenario>.json next to this file", '');
  }
  let section = 0;
  for (const [name, file] of files) {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    const { md: lines, charts = [] } = (await load(name)).report(data);
    md.push(`## ${++section}. ${SCENARIOS[name]}`, '', ...lines);
    const size = data.smoke ? ', smoke sizes' : data.quick ? ', --quick' : data.full ? ', --full' : '';
    const took = Number.isFinite(data.seconds) ? `${data.seconds.toFixed(0)} s, ` : '';
    md.push(`_\`${data.command}\`, ${took}${data.machine.date}, commit ${data.machine.commit}${size}._`, '');
    const failed = (data.rows ?? []).filter((r) => r.error);
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
  process.stdout.write(`${JSON.stringify(r ?? {})}\n`);
  process.exit(0);
} else {
  await parent();
}

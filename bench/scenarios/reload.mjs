/**
 * Scenario "reload": unload and reload one index, against reading its file(s) from the page cache
 * (readFileSync). shoal: col.unload() / col.load(); hnswlib-node: readIndexSync into a new index;
 * usearch: load() and view() (mmap) into a new Index.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { DIM, tenantBase } from '../lib/tenants/data.mjs';
import { fmt, now, percentile, ratio, table } from '../lib/common.mjs';

const G = { M: 16, efConstruction: 64 };

export async function run(ctx) {
  return { rows: await ctx.runTasks(tasks(ctx)) };
}

function tasks({ smoke, full }) {
  const n = smoke ? 1000 : full ? 100_000 : 20_000;
  const rounds = smoke ? 2 : 7;
  return ['shoal', 'hnswlib-node', 'usearch'].map((engine) => ({ label: engine, cfg: { engine, n, rounds } }));
}

export async function child({ engine, n, rounds }) {
  const base = tenantBase(0, n);
  const dir = mkdtempSync(join(os.tmpdir(), 'shoal-bench-reload-'));
  const med = (xs) => percentile(xs, 50);
  try {
    const loadMs = [];
    const viewMs = [];
    const readMs = [];
    let paths;
    let reload;
    let view = null;
    if (engine === 'shoal') {
      const { build } = await import('../engines/shoal.mjs');
      const e = await build({ dim: DIM, base, ...G, threads: 2, path: dir });
      await e.col.unload();
      const cdir = join(dir, 'collections', 'c');
      paths = readdirSync(cdir).filter((f) => /\.(seg|ids)$/.test(f)).map((f) => join(cdir, f));
      reload = async () => {
        await e.col.unload();
        const a = now();
        await e.col.load();
        return now() - a;
      };
      await e.col.load();
      for (let r = 0; r < rounds; r++) loadMs.push(await reload());
      await e.close();
    } else if (engine === 'hnswlib-node') {
      const h = await import('../engines/hnswlib-node.mjs');
      const path = join(dir, 'i.bin');
      h.build({ dim: DIM, base, ...G }).save(path);
      paths = [path];
      h.load(path, DIM);
      for (let r = 0; r < rounds; r++) {
        const a = now();
        h.load(path, DIM);
        loadMs.push(now() - a);
      }
    } else {
      const u = await import('../engines/usearch.mjs');
      const path = join(dir, 'u.usearch');
      u.build({ dim: DIM, base, ...G }).save(path);
      paths = [path];
      u.load(path, { dim: DIM, ...G });
      for (let r = 0; r < rounds; r++) {
        let a = now();
        u.load(path, { dim: DIM, ...G });
        loadMs.push(now() - a);
        a = now();
        u.load(path, { dim: DIM, ...G, view: true });
        viewMs.push(now() - a);
      }
      view = med(viewMs);
    }
    for (let r = 0; r < rounds; r++) {
      const a = now();
      for (const p of paths) readFileSync(p);
      readMs.push(now() - a);
    }
    const bytes = paths.reduce((s, p) => s + statSync(p).size, 0);
    const mbps = (ms) => bytes / 1e6 / (ms / 1000);
    return { engine, n, bytes, rounds, loadMs: med(loadMs), readMs: med(readMs), viewMs: view, loadMBps: mbps(med(loadMs)), readMBps: mbps(med(readMs)), loadAll: loadMs, readAll: readMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function report(data) {
  const results = data.rows.filter((r) => !r.error);
  const md = [];
  md.push(`One index of ${fmt(results[0]?.n)} × ${DIM}-d vectors (M=${G.M}, efConstruction=${G.efConstruction}); median of ${results[0]?.rounds} reloads, files hot in the page cache. "read" = readFileSync of the same file(s). shoal: \`col.unload()\` then timed \`await col.load()\` (off the main thread); hnswlib-node: \`readIndexSync\` into a new index; usearch: \`load()\` (copy) and \`view()\` (mmap, lazy) into a new Index — both synchronous on the main thread.`, '');
  md.push(...table(['engine', 'file MB', 'reload ms', 'reload MB/s', 'read ms', 'read MB/s', 'reload ÷ read time', 'usearch view() ms'], results.map((r) => [r.engine, fmt(r.bytes / 1e6, 1), fmt(r.loadMs, 1), fmt(r.loadMBps), fmt(r.readMs, 1), fmt(r.readMBps), ratio(r.loadMs, r.readMs), r.viewMs === null ? '—' : fmt(r.viewMs, 2)])));
  md.push('');
  return { md, charts: [] };
}

/**
 * Scenario "eventloop": main-thread event-loop delay p99 under a saturating query load.
 * shoal: 8 single col.query calls kept in flight. Peers: synchronous search calls on the main
 * thread, yielding (setImmediate) after every `chunk` queries so the monitor can sample at all.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadDataset } from '../lib/datasets.mjs';
import { GRAPH, fmt, now, table } from '../lib/common.mjs';

const EF = 64;
const K = 10;

export async function run(ctx) {
  return { rows: await ctx.runTasks(tasks(ctx)) };
}

function tasks({ smoke, full }) {
  const seconds = smoke ? 0.3 : full ? 5 : 2.5;
  const n = smoke ? 1000 : 10_000;
  return [
    { engine: 'shoal', threads: 1 },
    { engine: 'shoal', threads: 2 },
    { engine: 'hnswlib-node', chunks: [1, 100] },
    { engine: 'usearch', chunks: [1, 100] },
  ].map((c) => ({ label: c.engine + (c.threads ? ` t${c.threads}` : ''), cfg: { ...c, seconds, n } }));
}

const sleepImm = () => new Promise(setImmediate);

async function measure(seconds, load) {
  const idle = monitorEventLoopDelay({ resolution: 10 });
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const t0 = now();
  const elu0 = performance.eventLoopUtilization();
  const count = await load(() => now() - t0 < seconds * 1000);
  const elu = performance.eventLoopUtilization(elu0).utilization;
  h.disable();
  void idle;
  return { p50Ms: h.percentile(50) / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6, qps: count / ((now() - t0) / 1000), elu };
}

export async function child({ engine, threads, chunks, seconds, n }) {
  const ds = loadDataset('siftsmall');
  const { dim } = ds;
  const base = ds.base.subarray(0, n * dim);
  const nq = ds.queries.length / dim;
  const qs = Array.from({ length: nq }, (_, i) => ds.queries.subarray(i * dim, (i + 1) * dim));
  const loads = [];
  if (engine === 'shoal') {
    const { build } = await import('../engines/shoal.mjs');
    const e = await build({ dim, base, ...GRAPH, threads });
    await Promise.all(qs.map((q) => e.searchOne(q, K, EF)));
    const m = await measure(seconds, async (going) => {
      let count = 0;
      let i = 0;
      const client = async () => {
        while (going()) {
          await e.searchOne(qs[i++ % nq], K, EF);
          count++;
        }
      };
      await Promise.all(Array.from({ length: 8 }, client));
      return count;
    });
    loads.push({ mode: '8 in flight', ...m });
    await e.close();
  } else {
    let one;
    let many = null;
    let threadsNote = null;
    if (engine === 'hnswlib-node') {
      const { build } = await import('../engines/hnswlib-node.mjs');
      const e = build({ dim, base, ...GRAPH });
      e.setEf(EF);
      const arr = e.prepare(ds.queries);
      one = (i) => e.searchOne(arr[i % nq], K);
    } else {
      const { build, CORES } = await import('../engines/usearch.mjs');
      threadsNote = CORES;
      const e = build({ dim, base, ...GRAPH }); // expansion_search 64 = EF
      one = (i) => e.searchOne(qs[i % nq], K);
      // Its best: one batch call over every core (usearch's own threads), not one query per call.
      many = (count) => e.searchMany(ds.queries.subarray(0, Math.min(count, nq) * dim), K);
    }
    for (let i = 0; i < 200; i++) one(i);
    for (const chunk of chunks) {
      const m = await measure(seconds, async (going) => {
        let count = 0;
        while (going()) {
          if (many && chunk > 1) {
            many(chunk);
            count += Math.min(chunk, nq);
          } else for (let j = 0; j < chunk; j++) one(count++);
          await sleepImm();
        }
        return count;
      });
      loads.push({ mode: many && chunk > 1 ? `batch call of ${chunk}${threadsNote ? ` (threads ${threadsNote})` : ''}, then yield` : `${chunk} per turn, then yield`, ...m });
    }
  }
  return { engine: engine + (threads ? ` t${threads}` : ''), n, seconds, loads };
}

export function report(data) {
  const results = data.rows.filter((r) => !r.error);
  const md = [];
  md.push(`siftsmall (first ${fmt(results[0]?.n)} vectors), ef=${EF}, k=${K}; \`monitorEventLoopDelay({ resolution: 10 })\` for ${results[0]?.seconds} s per load (an idle loop reads ≈ 10 ms, its timer period). QPS = queries answered in the window; ELU = main-thread event-loop utilisation.`, '');
  md.push(...table(['engine', 'load', 'p50 ms', 'p99 ms', 'max ms', 'QPS', 'main ELU'], results.flatMap((r) => r.loads.map((l) => [r.engine, l.mode, fmt(l.p50Ms, 1), `**${fmt(l.p99Ms, 1)}**`, fmt(l.maxMs, 1), fmt(l.qps), fmt(l.elu, 2)])), ['l', 'l']));
  md.push('');
  return { md, charts: [] };
}

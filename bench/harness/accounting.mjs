/**
 * Scenario "accounting": shoal's reported bytes (stats().usedBytes and nativeBytes) against the
 * allocator's own counters (native.allocatorCounters(): glibc mallinfo2 in-use + mmapped) and RSS,
 * across collection sizes, each size in a fresh process.
 */
import { DIM, tenantBase } from '../lib/tenants/data.mjs';
import { fmt, mib, settledRss, table } from './common.mjs';
import { lineChart } from './svg.mjs';

export function tasks({ smoke, full }) {
  const sizes = smoke ? [500, 2000] : full ? [1000, 10_000, 50_000, 100_000, 200_000] : [1000, 5000, 20_000, 50_000];
  return sizes.map((n) => ({ label: `n=${n}`, cfg: { n } }));
}

export async function child({ n }) {
  const { build, native } = await import('../engines/shoal.mjs');
  const base = tenantBase(1, n);
  const alloc = () => {
    const c = native.allocatorCounters();
    return c.inUseBytes + c.mmappedBytes;
  };
  const rss0 = settledRss().rss;
  const a0 = alloc();
  const e = await build({ dim: DIM, base, M: 16, efConstruction: 64, threads: 2 });
  const rss1 = settledRss().rss;
  const a1 = alloc();
  const s = e.db.stats();
  await e.close();
  return { n, usedBytes: s.usedBytes, nativeBytes: s.nativeBytes, idTableBytes: s.idTableBytes, allocatorDelta: a1 - a0, rssDelta: rss1 - rss0, available: native.allocatorCounters().available, rawVectorBytes: n * DIM * 4 };
}

export function report(results) {
  const md = ['## 4. Accounting', ''];
  md.push('One collection (M=16, efConstruction=64, 2 threads) per process. "allocator Δ" = change in glibc mallinfo2 in-use + mmapped bytes across opening the database, creating the collection and adding the vectors (it includes the worker threads\' and the pool\'s own allocations); "RSS Δ" = RSS change after GC. Reported native bytes are exact counts of what the segments allocated.', '');
  md.push(...table(['n', 'reported usedBytes MiB', 'reported native MiB', 'allocator Δ MiB', 'RSS Δ MiB', 'native ÷ allocator Δ', 'usedBytes ÷ RSS Δ', 'usedBytes/vector'], results.map((r) => [fmt(r.n), mib(r.usedBytes), mib(r.nativeBytes), mib(r.allocatorDelta), mib(r.rssDelta), fmt(r.nativeBytes / r.allocatorDelta, 3), fmt(r.usedBytes / r.rssDelta, 3), fmt(r.usedBytes / r.n)])));
  md.push('');
  const file = 'accounting.svg';
  const pts = (k) => results.map((r) => [r.n, r[k] / 2 ** 20]);
  const svg = lineChart({ title: 'Reported bytes vs allocator and RSS', xLabel: 'vectors', yLabel: 'MiB', logX: true, logY: true, series: [{ name: 'shoal usedBytes', points: pts('usedBytes') }, { name: 'shoal nativeBytes', points: pts('nativeBytes') }, { name: 'allocator Δ', points: pts('allocatorDelta') }, { name: 'RSS Δ', points: pts('rssDelta') }] });
  md.push(`![accounting](${file})`, '');
  return { md, charts: [{ file, svg }] };
}

/**
 * Scenario "accounting": shoal's reported bytes against the allocator's own counters
 * (native.allocatorCounters(): glibc mallinfo2 in-use + mmapped bytes) and RSS, across
 * collection sizes, each size in a fresh process. The collection is built, unloaded, and then
 * measured across one load and one unload, so the allocator's change is the segment's and the
 * id table's own memory, not the database's and worker threads' start-up allocations.
 */
import { DIM, tenantBase } from '../lib/tenants/data.mjs';
import { fmt, mib, settledRss, table } from '../lib/common.mjs';
import { lineChart } from '../lib/svg.mjs';

export async function run(ctx) {
  return { rows: await ctx.runTasks(tasks(ctx)) };
}

function tasks({ smoke, full }) {
  const sizes = smoke ? [500, 2000] : full ? [1000, 10_000, 50_000, 100_000, 200_000] : [1000, 5000, 20_000, 50_000];
  return sizes.map((n) => ({ label: `n=${n}`, cfg: { n } }));
}

export async function child({ n }) {
  const { build, native } = await import('../engines/shoal.mjs');
  const alloc = () => {
    const c = native.allocatorCounters();
    return c.inUseBytes + c.mmappedBytes;
  };
  const e = await build({ dim: DIM, base: tenantBase(1, n), M: 16, efConstruction: 64, threads: 2 });
  await e.col.unload();
  native.trimAllocator(); // the load below maps fresh pages, so RSS sees it
  const rss0 = settledRss().rss;
  const a0 = alloc();
  await e.col.load();
  const rss1 = settledRss().rss; // after GC: the load's garbage (the ids file's buffer) is gone
  const a1 = alloc();
  const s = e.db.stats();
  await e.col.unload();
  settledRss(); // the id table's arrays are freed when GC collects them
  const a2 = alloc();
  await e.close();
  return {
    n,
    usedBytes: s.usedBytes,
    nativeBytes: s.nativeBytes,
    idTableBytes: s.idTableBytes,
    realBytes: s.nativeBytes + s.idTableBytes,
    loadAllocatorDelta: a1 - a0,
    unloadAllocatorDelta: a1 - a2,
    loadRssDelta: rss1 - rss0,
    available: native.allocatorCounters().available,
    rawVectorBytes: n * DIM * 4,
  };
}

export function report(data) {
  const results = data.rows.filter((r) => !r.error);
  const md = [];
  md.push('One collection of n × 128 (M=16, efConstruction=64, 2 threads) per process, built, unloaded, then measured across one `col.load()` and one `col.unload()`. "Reported" = `stats().nativeBytes + idTableBytes` while resident (the segment\'s exact native bytes and the id table\'s typed arrays); `usedBytes` adds reservations for memory a segment may still allocate (search scratch). "Allocator Δ" = change of glibc mallinfo2 in-use + mmapped bytes across the load and across the unload; it also sees whatever else the process allocates meanwhile, notably on load the pool thread\'s id-file buffer and the id table it sends back, which that thread\'s GC frees later (the unload figure has no such garbage). "RSS Δ" = RSS change across the load after GC (the allocator was trimmed before it).', '');
  md.push(...table(['n', 'reported MiB', 'usedBytes MiB', 'allocator Δ load MiB', 'allocator Δ unload MiB', 'reported ÷ Δ load', 'reported ÷ Δ unload', 'RSS Δ load MiB', 'reported ÷ RSS Δ', 'bytes/vector'], results.map((r) => [fmt(r.n), mib(r.realBytes), mib(r.usedBytes), mib(r.loadAllocatorDelta), mib(r.unloadAllocatorDelta), fmt(r.realBytes / r.loadAllocatorDelta, 4), fmt(r.realBytes / r.unloadAllocatorDelta, 4), mib(r.loadRssDelta), fmt(r.realBytes / r.loadRssDelta, 3), fmt(r.realBytes / r.n)])));
  md.push('');
  const file = 'accounting.svg';
  const pts = (k) => results.map((r) => [r.n, r[k] / 2 ** 20]);
  const svg = lineChart({ title: 'Reported bytes vs allocator and RSS (one load)', xLabel: 'vectors', yLabel: 'MiB', logX: true, logY: true, series: [{ name: 'shoal reported', points: pts('realBytes') }, { name: 'allocator Δ load', points: pts('loadAllocatorDelta') }, { name: 'allocator Δ unload', points: pts('unloadAllocatorDelta') }, { name: 'RSS Δ load', points: pts('loadRssDelta') }] });
  md.push(`![accounting](${file})`, '');
  return { md, charts: [{ file, svg }] };
}

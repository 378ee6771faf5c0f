/** Markdown tables for bench/scenarios/collection.mjs. Pure: the children's results in, lines out. */
import { disturbed } from './cpu.mjs';
import { qpsAtRecall, smallestEfAtLeast } from './curve.mjs';

const fmt = (x, digits = 0) =>
  x === undefined || x === null || Number.isNaN(x) ? '—' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '—');
const mib = (b) => fmt(b / 2 ** 20, 1);
const label = (r) => (r.engine === 'shoal' ? `shoal t${r.threads} s${r.shards}` : 'hnswlib-node');

/** Goals stated by the issue. */
export const GOALS = { qpsAtEqualRecall: 1.8, ingest: 1.6 };

/** Everything derived from the peer curve for one shoal row. */
export function compareRow(row, peer) {
  const sameEf = peer.search.find((p) => p.ef === row.ef);
  const interp = qpsAtRecall(peer.search, row.recall);
  const atLeast = smallestEfAtLeast(peer.search, row.recall);
  return {
    sameEf,
    ratioSameEf: sameEf ? row.qps / sameEf.qps : null,
    interp,
    ratioInterp: interp ? row.qps / interp.qps : null,
    atLeast,
    ratioAtLeast: atLeast ? row.qps / atLeast.qps : null,
  };
}

export function report(results, { quick, protocol }) {
  const peer = results.find((r) => r.engine === 'hnswlib-node');
  const shoal = results.filter((r) => r.engine === 'shoal');
  const find = (t, s) => shoal.find((r) => r.threads === t && r.shards === s);
  const out = [];

  // 1. ingest
  out.push('### 1. Build / ingest throughput', '');
  out.push(
    `hnswlib-node: \`addPoint\` loop on the main thread (one \`Array.from\` per point, as its API needs). shoal: \`col.add\` with ${protocol.batch} string ids per call, up to ${protocol.inFlightPerThread} × threads calls in flight, timed from the first call to the last resolution (includes segment creation and capacity doublings from 1,024). "main ELU" = main-thread event-loop utilisation during ingest.`,
    '',
    '| engine | threads | shards | ingest s | vectors/s | vs hnswlib-node | main ELU | native bytes (MiB) | bytes/vector | shard capacities |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const r of results) {
    const m = r.memory;
    out.push(
      `| ${label(r)} | ${r.threads} | ${r.shards} | ${fmt(r.ingest.seconds, 2)} | ${fmt(r.ingest.vectorsPerSecond)} | ${peer ? ratio(r.ingest.vectorsPerSecond, peer.ingest.vectorsPerSecond) : '—'} | ${r.ingest.mainThreadElu === undefined ? '—' : fmt(r.ingest.mainThreadElu, 2)} | ${m.nativeBytes ? mib(m.nativeBytes) : `RSS Δ ${mib(m.rssDeltaBytes)}`} | ${m.nativeBytes ? fmt(m.nativeBytesPerVector, 1) : '—'} | ${m.shards ? m.shards.map((x) => fmt(x.capacity)).join(' / ') : '—'} |`,
    );
  }
  out.push('');

  // 2. query
  if (peer) {
    out.push('### 2. Query QPS and recall@10', '');
    out.push(
      `shoal: one \`col.query\` call with all ${results[0].nq} queries per pass (${quick ? 'repeated to ≥ 1,000 queries per pass, ' : ''}${protocol.shoalJitWarmupCalls ? `${protocol.shoalJitWarmupCalls} JIT warm-up calls before the ladder, then per ef ` : ''}a warm-up call, best of ${protocol.passes} passes). hnswlib-node: \`searchKnn\` loop, one query per call, one thread (${protocol.warmupQueries ?? 100} warm-up queries per ef, best of ${protocol.passes} passes). ` +
        'With 2+ shards every shard returns its own top-10, so recall at equal ef is higher than with 1 shard; hence two comparisons. ' +
        '**Equal recall (interp.)**: hnswlib-node QPS linearly interpolated in recall between the two ladder points (efs shown) that bracket shoal\'s recall. ' +
        '**Equal recall (≥)**: hnswlib-node at the smallest ladder ef whose recall ≥ shoal\'s (favours shoal slightly). "main ms/call" = main-thread busy time per batched call (ELU active time of the best pass), with the main-thread GC time per call in parentheses.',
      '',
      '| config | ef | shoal QPS | recall@10 | hnswlib-node QPS same ef (recall) | ratio equal ef | hnswlib-node QPS at shoal recall (interp., efs) | **ratio equal recall (interp.)** | hnswlib-node smallest ef ≥ recall: ef, QPS | ratio (≥) | main ms/call (GC ms) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of shoal) {
      for (const row of r.search) {
        const c = compareRow(row, peer);
        out.push(
          `| ${label(r)} | ${row.ef} | ${fmt(row.qps)} | ${fmt(row.recall, 4)} | ${c.sameEf ? `${fmt(c.sameEf.qps)} (${fmt(c.sameEf.recall, 4)})` : '—'} | ${c.ratioSameEf ? `${c.ratioSameEf.toFixed(2)}×` : '—'} | ${c.interp ? `${fmt(c.interp.qps)} (${c.interp.between.join('–')})` : 'outside ladder'} | ${c.ratioInterp ? `**${c.ratioInterp.toFixed(2)}×**` : '—'} | ${c.atLeast ? `${c.atLeast.ef}, ${fmt(c.atLeast.qps)}` : '—'} | ${c.ratioAtLeast ? `${c.ratioAtLeast.toFixed(2)}×` : '—'} | ${fmt(row.mainThreadMsPerCall, 1)} (${fmt(row.gcMsPerCall, 1)}) |`,
        );
      }
    }
    out.push('', 'hnswlib-node ladder (single-query loop, 1 thread):', '', '| ef | QPS | recall@10 |', '|---:|---:|---:|');
    for (const p of peer.search) out.push(`| ${p.ef} | ${fmt(p.qps)} | ${fmt(p.recall, 4)} |`);
    out.push('');
  }

  // 3. latency
  out.push('### 3. Single-query latency', '');
  out.push(
    `${protocol.latency.queries.toLocaleString('en-US')} sequential single queries (k=10, ef=${protocol.latency.ef}) after ${protocol.latency.warmup} warm-up, each awaited before the next. shoal: \`col.query(Float32Array(dim))\` through the pool. "trivial" = the same with k=1, ef=1 (almost no native work: the cost of the collection + pool path itself). hnswlib-node: a synchronous \`searchKnn\` on the main thread (≈ the native search cost alone).`,
    '',
    '| config | p50 µs | p90 µs | p99 µs | mean µs | max µs | main-thread GCs (ms total) | trivial p50 µs | trivial p99 µs | trivial GCs (ms) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of results) {
    const l = r.latency.us;
    const t = r.latency.trivialUs;
    const gcs = (g) => (g ? `${g.count} (${fmt(g.totalMs, 1)})` : '—');
    out.push(`| ${label(r)} | ${fmt(l.p50)} | ${fmt(l.p90)} | ${fmt(l.p99)} | ${fmt(l.mean)} | ${fmt(l.max)} | ${gcs(r.latency.gc)} | ${t ? fmt(t.p50) : '—'} | ${t ? fmt(t.p99) : '—'} | ${t ? gcs(r.latency.trivialGc) : '—'} |`);
  }
  out.push('');

  // 4. event loop
  out.push('### 4. Event-loop delay under saturating query load', '');
  out.push(
    `\`perf_hooks.monitorEventLoopDelay({ resolution: ${protocol.eventLoop.resolutionMs} })\` on the main thread for ~${protocol.eventLoop.seconds} s, ef=${protocol.eventLoop.ef}. It records the whole interval between its timer's firings, so an idle loop reads ≈ ${protocol.eventLoop.resolutionMs} ms (row "idle"); blocking shows as the excess over that. shoal: ${protocol.eventLoop.inFlight} single \`col.query\` calls continuously in flight. hnswlib-node: synchronous \`searchKnn\` loop on the main thread, yielding via \`setImmediate\` every N queries so the monitor can sample at all (without yielding, the delay is the whole run). QPS = queries answered during the window; ELU = main-thread event-loop utilisation.`,
    '',
    '| config | load | samples | p50 ms | **p99 ms** | **max ms** | QPS | main ELU | main-thread µs/query (ELU) | GCs (ms) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of results) {
    const i = r.eventLoop.idle;
    out.push(`| ${label(r)} | idle (1 s) | ${i.samples} | ${fmt(i.p50Ms, 2)} | ${fmt(i.p99Ms, 2)} | ${fmt(i.maxMs, 2)} | — | — | — | — |`);
    for (const l of r.eventLoop.loads) {
      out.push(`| ${label(r)} | ${l.mode} | ${l.samples} | ${fmt(l.p50Ms, 2)} | **${fmt(l.p99Ms, 2)}** | **${fmt(l.maxMs, 2)}** | ${fmt(l.qps)} | ${fmt(l.elu, 2)} | ${fmt((l.elu * 1e6) / l.qps)} | ${l.gc ? `${l.gc.count} (${fmt(l.gc.totalMs, 1)})` : '—'} |`);
    }
  }
  out.push('');

  // 5. shard study
  const study = shoal.filter((r) => r.threads === 2).sort((a, b) => a.shards - b.shards);
  if (study.length > 1) {
    out.push('### 5. Shard count (threads=2)', '');
    const at = (r, ef) => r.search.find((x) => x.ef === ef);
    out.push(
      'Native bytes = `native.totalBytes()` after ingest (exact; all shards). Fixed bytes/shard = `estimateBytes({capacity: 1}).fixedBytes`. Capacities double from 1,024, so per-shard capacity (and so bytes) depends on where the count lands. Id-table bytes are JS-side typed arrays, not in native bytes.',
      '',
      '| shards | ingest s | vectors/s | QPS ef32 | recall ef32 | QPS ef64 | recall ef64 | native MiB | bytes/vector | capacity/shard | fixed bytes/shard (est.) | id tables MiB | latency p50/p99 µs (ef64) | trivial p50 µs |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|',
    );
    for (const r of study) {
      const [a, b] = [at(r, 32), at(r, 64)];
      out.push(
        `| ${r.shards} | ${fmt(r.ingest.seconds, 2)} | ${fmt(r.ingest.vectorsPerSecond)} | ${fmt(a?.qps)} | ${fmt(a?.recall, 4)} | ${fmt(b?.qps)} | ${fmt(b?.recall, 4)} | ${mib(r.memory.nativeBytes)} | ${fmt(r.memory.nativeBytesPerVector, 1)} | ${r.memory.shards.map((x) => fmt(x.capacity)).join(' / ')} | ${fmt(r.memory.fixedBytesPerShardEstimate)} | ${mib(r.memory.idTableBytes)} | ${fmt(r.latency.us.p50)} / ${fmt(r.latency.us.p99)} | ${fmt(r.latency.trivialUs.p50)} |`,
      );
    }
    out.push('');
  }

  // goals
  out.push('### Goals', '');
  const t2 = find(2, 2);
  if (peer && t2) {
    const rows = t2.search.map((row) => ({ ef: row.ef, ...compareRow(row, peer) }));
    const parts = rows.map((c) => `ef ${c.ef}: ${c.ratioInterp ? `${c.ratioInterp.toFixed(2)}×` : 'n/a'} (≥-method ${c.ratioAtLeast ? `${c.ratioAtLeast.toFixed(2)}×` : 'n/a'}; equal ef ${c.ratioSameEf.toFixed(2)}×)`);
    const ok = rows.filter((c) => c.ratioInterp !== null);
    const pass = ok.length > 0 && ok.every((c) => c.ratioInterp >= GOALS.qpsAtEqualRecall);
    out.push(`- QPS, shoal t2 s2 vs hnswlib-node at equal recall (goal ≥ ${GOALS.qpsAtEqualRecall}×): ${parts.join('; ')} → **${pass ? 'met' : 'not met'}** at ${ok.filter((c) => c.ratioInterp >= GOALS.qpsAtEqualRecall).length}/${ok.length} ef values (interpolated).`);
    const t2s1 = find(2, 1);
    if (t2s1) {
      const r1 = t2s1.search.map((row) => ({ ef: row.ef, ...compareRow(row, peer) }));
      out.push(`- Same for shoal t2 s1: ${r1.map((c) => `ef ${c.ef}: ${c.ratioInterp ? `${c.ratioInterp.toFixed(2)}×` : 'n/a'}`).join('; ')}.`);
    }
    const ing = t2.ingest.vectorsPerSecond / peer.ingest.vectorsPerSecond;
    out.push(`- Ingest, shoal t2 s2 vs hnswlib-node (goal ≥ ${GOALS.ingest}×): **${ing.toFixed(2)}×** → **${ing >= GOALS.ingest ? 'met' : 'not met'}**.`);
    const t1 = find(1, 1);
    if (t1) out.push(`- For scale: shoal t1 s1 vs hnswlib-node: ingest ${ratio(t1.ingest.vectorsPerSecond, peer.ingest.vectorsPerSecond)}; QPS at equal ef ${t1.search.map((row) => `ef ${row.ef} ${ratio(row.qps, peer.search.find((p) => p.ef === row.ef)?.qps)}`).join(', ')}.`);
  } else {
    out.push('- (needs hnswlib and shoal:t2:s2 in the run)');
  }
  out.push('');

  // contention
  out.push('### CPU used by other processes during each phase', '');
  out.push(
    'Average cores busy outside this benchmark process (from /proc/stat minus /proc/self/stat; 2 cores in all). Anything above ~0.1 means that phase competed for the CPUs and its numbers are pessimistic; "self" = this process\'s own average cores. A query, latency or event-loop measurement disturbed by more than 0.15 core is repeated in the child once the machine is quiet (up to 3 times, least disturbed kept); phases show the time-weighted average over their kept measurements. Before each configuration the parent waits until other processes use < 0.1 core; a configuration with a phase still above 0.15 (typically its ingest, which is not repeatable in the child) is run again whole, up to the retry limit, and the least disturbed run is kept.',
    '',
    '| config | ingest other (self) | search other (self) | latency other (self) | event loop other (self) | steal (max phase) | measurements repeated in the child | child runs (worst phase\'s other cores each) |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
  );
  const phases = ['ingest', 'search', 'latency', 'eventLoop'];
  for (const r of results) {
    const c = r.cpu ?? {};
    const cell = (p) => (c[p] ? `${fmt(c[p].otherCores, 2)} (${fmt(c[p].selfCores, 2)})` : '—');
    const measurements = [...r.search, r.latency, ...r.eventLoop.loads];
    const repeats = measurements.reduce((a, m) => a + (m.attempts ?? 1) - 1, 0) + (r.latency.trivialAttempts ?? 1) - 1;
    out.push(`| ${label(r)} | ${phases.map(cell).join(' | ')} | ${fmt(Math.max(...phases.map((p) => c[p]?.stealCores ?? 0)), 2)} | ${repeats} | ${r.attempts ?? 1} (${(r.worstOtherOfAttempts ?? []).map((d) => d.toFixed(2)).join(', ')}) |`);
  }
  out.push('');

  const problems = [];
  const codes = [...new Set(shoal.map((r) => r.code))];
  if (codes.length > 1) problems.push(`shoal configurations ran different code snapshots (${codes.join(', ')})`);
  for (const r of results) {
    for (const p of phases) {
      const o = r.cpu?.[p]?.otherCores;
      if (disturbed(r.cpu?.[p])) problems.push(`${label(r)}: other processes used ${o.toFixed(2)} cores on average during ${p}: those numbers are disturbed`);
    }
  }
  for (const r of shoal) {
    if (r.nativeBytesAfterClose) problems.push(`${label(r)}: ${r.nativeBytesAfterClose} native bytes still held after db.close()`);
    for (const row of r.search) if (row.shortResults) problems.push(`${label(r)} ef=${row.ef}: ${row.shortResults} queries returned fewer than k ids`);
  }
  if (problems.length) out.push('Warnings:', ...problems.map((p) => `- ${p}`), '');
  return out;
}

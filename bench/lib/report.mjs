/** Turns the children's JSON results into Markdown tables. Pure: strings in, strings out. */

const fmt = (x, digits = 0) => (x === undefined || x === null || Number.isNaN(x) ? '—' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '—');

export function machineLines(m) {
  return [
    `- CPU: ${m.cpuModel}, ${m.cores} cores; ${m.os}; RAM ${fmt(m.totalMemGiB, 1)} GiB`,
    `- Node ${m.node}; shoal kernel ${m.shoalKernel}; hnswlib-node ${m.hnswlibNodeVersion}`,
    `- commit ${m.commit}; shoal addon built ${m.shoalAddonBuilt}; run ${m.date}`,
  ];
}

/** One row per engine x dataset x ef, then per dataset the shoal/hnswlib-node ratio rows. */
export function searchTable(results, engines) {
  const out = [
    '| engine | dataset | ef | build s | QPS single | QPS batch | recall@10 |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  const datasets = [...new Set(results.map((r) => r.dataset))];
  for (const ds of datasets) {
    const byEngine = Object.fromEntries(engines.map((e) => [e, results.find((r) => r.engine === e && r.dataset === ds)]));
    for (const e of engines) {
      const r = byEngine[e];
      if (!r) continue;
      for (const row of r.search.rows) {
        out.push(`| ${e} | ${ds} | ${row.ef} | ${fmt(r.buildSeconds, 2)} | ${fmt(row.qpsSingle)} | ${fmt(row.qpsBatch)} | ${fmt(row.recall, 4)} |`);
      }
    }
    const [a, b] = engines.map((e) => byEngine[e]);
    if (!a || !b) continue;
    for (const rowA of a.search.rows) {
      const rowB = b.search.rows.find((x) => x.ef === rowA.ef);
      const dRecall = rowA.recall - rowB.recall;
      out.push(
        `| **${a.engine}/${b.engine}** | ${ds} | ${rowA.ef} | ${ratio(a.buildSeconds, b.buildSeconds)} | ${ratio(rowA.qpsSingle, rowB.qpsSingle)} | ${ratio(rowA.qpsBatch, rowB.qpsSingle)} (batch vs single) | Δ ${dRecall >= 0 ? '+' : ''}${dRecall.toFixed(4)}${rowA.answersDigest === rowB.answersDigest ? ', same answers' : ''} |`,
      );
    }
  }
  return out;
}

export function memoryTable(results) {
  const out = [
    '| engine | dataset | n | exact bytes/vector | RSS Δ/vector | fixed bytes/segment (estimateBytes) | empty segment (capacity 1): exact bytes, 1st / 2nd in process | same, estimateBytes total |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const m = r.memory;
    out.push(
      `| ${r.engine} | ${r.dataset} | ${fmt(r.n)} | ${fmt(m.bytesPerVector, 1)} | ${fmt(m.rssDeltaBytes / r.n, 1)} (RSS) | ${fmt(m.fixedBytesEstimate)} | ${m.emptySegmentBytes ? `${fmt(m.emptySegmentBytes)} / ${fmt(m.emptySegmentBytesSecond)}` : '—'} | ${fmt(m.emptySegmentEstimate)} |`,
    );
  }
  return out;
}

/** Things that look wrong: printed under the tables so they are not missed. */
export function warnings(results, engines) {
  const out = [];
  for (const r of results) {
    for (const row of r.search.rows) {
      if (row.batchDiffersFromSingle) out.push(`${r.engine} ${r.dataset} ef=${row.ef}: batch answers differ from one-by-one answers on ${row.batchDiffersFromSingle} queries`);
    }
    if (r.finish?.nativeBytesAfterFree) out.push(`${r.engine} ${r.dataset}: ${r.finish.nativeBytesAfterFree} native bytes still held after free()`);
    if (r.memory.emptySegmentBytes > r.memory.emptySegmentEstimate) out.push(`${r.engine} ${r.dataset}: an empty segment holds ${r.memory.emptySegmentBytes} bytes, more than estimateBytes().totalBytes ${r.memory.emptySegmentEstimate} ("a safe upper bound")`);
    if (r.memory.estimate && r.memory.bytes > r.memory.estimate.totalBytes) out.push(`${r.engine} ${r.dataset}: bytes ${r.memory.bytes} exceed estimateBytes().totalBytes ${Math.round(r.memory.estimate.totalBytes)}`);
  }
  const [ea, eb] = engines;
  for (const a of results.filter((r) => r.engine === ea)) {
    const b = results.find((r) => r.engine === eb && r.dataset === a.dataset);
    for (const rowA of b ? a.search.rows : []) {
      const rowB = b.search.rows.find((x) => x.ef === rowA.ef);
      // Different random graphs give slightly different recall; more than this suggests a bug.
      const tolerance = Math.max(0.01, 3 * Math.sqrt((rowB.recall * (1 - rowB.recall)) / (a.truthRows * 10)));
      if (rowA.answersDigest === rowB.answersDigest) continue; // identical answers
      if (Math.abs(rowA.recall - rowB.recall) > tolerance) out.push(`${a.dataset} ef=${rowA.ef}: recall ${ea} ${rowA.recall.toFixed(4)} vs ${eb} ${rowB.recall.toFixed(4)}`);
    }
  }
  return out;
}

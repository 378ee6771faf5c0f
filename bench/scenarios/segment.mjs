/**
 * Scenario "segment": shoal's raw native Segment against hnswlib-node on the same data, one
 * thread each, same search protocol (lib/protocol.mjs): QPS one query per call and batched,
 * recall@10, build time, exact bytes per vector. One child per engine x dataset.
 * Datasets: siftsmall and gauss100k (--quick: gauss20k; --smoke: siftsmall's first 1,000).
 */
import { loadDataset } from '../lib/datasets.mjs';
import { EFS, GRAPH, K, MIN_QUERIES_PER_PASS, PASSES, WARMUP_QUERIES, measureSearch } from '../lib/protocol.mjs';
import { machineLines, memoryTable, searchTable, warnings } from '../lib/report.mjs';

const ENGINES = ['shoal', 'hnswlib-node'];
const DIM = 128; // every dataset here is 128-d; the child checks

export async function run(ctx) {
  const datasets = ctx.smoke ? ['sift1k'] : ctx.quick ? ['siftsmall', 'gauss20k'] : ['siftsmall', 'gauss100k'];
  // Generate and cache data (and brute-force ground truth) before anything is timed.
  for (const d of datasets) loadDataset(d);
  const results = [];
  for (const d of datasets) {
    for (const engine of ENGINES) {
      ctx.log(`${engine} on ${d} ...`);
      results.push(await ctx.child({ engine, dataset: d }));
    }
  }
  const facts = (e) => results.find((r) => r.engine === e)?.facts ?? {};
  const protocol = {
    graph: GRAPH,
    k: K,
    efs: EFS,
    warmupQueries: WARMUP_QUERIES,
    passes: PASSES,
    minQueriesPerPass: MIN_QUERIES_PER_PASS,
    notes: [
      'QPS single: one query per call, best of the passes; a pass repeats the query set until it has at least minQueriesPerPass queries.',
      'QPS batch: shoal searchSync with all queries in one call, same passes.',
      'hnswlib-node queries are converted to number[] before timing; its build converts each point (Array.from) inside the timed loop, as its API requires.',
      'Both engines single-threaded: hnswlib-node addPoint loop; shoal one add() call.',
      'shoal bytes = info().bytes (exact native bytes); hnswlib-node has no counter, so RSS delta (after GC) is shown for both.',
    ],
  };
  const machine = {
    shoalKernel: facts('shoal').buildInfo?.kernel,
    shoalBuildInfo: facts('shoal').buildInfo,
    shoalAddonBuilt: facts('shoal').addonBuilt,
    hnswlibNodeVersion: facts('hnswlib-node').version,
  };
  return { machine, protocol, results, warnings: warnings(results, ENGINES) };
}

export async function child({ engine: engineName, dataset: datasetName }) {
  const engine = await import(`../engines/${engineName}.mjs`);
  const probe = engineName === 'shoal' ? await engine.probe(DIM) : undefined;
  const ds = loadDataset(datasetName);
  if (ds.dim !== DIM) throw new Error(`${datasetName}: dim ${ds.dim}, the probe assumed ${DIM}`);
  const run = engineName === 'shoal' ? await engine.buildSegment(ds) : await engine.protocolBuild(ds);
  const search = measureSearch(run, ds);
  const finish = await run.finish();
  const n = ds.base.length / ds.dim;
  return {
    engine: engineName,
    dataset: datasetName,
    n,
    dim: ds.dim,
    truthRows: ds.truth.length / K,
    facts: engine.facts(),
    buildSeconds: run.buildSeconds,
    memory: { ...probe, ...run.memory },
    search,
    finish,
  };
}

export function report(data) {
  const { protocol: p, results } = data;
  const lines = [
    ...machineLines({ ...data.machine }),
    `- M=${p.graph.M}, efConstruction=${p.graph.efConstruction}, k=${p.k}, 1 thread; ${p.warmupQueries} warm-up queries, best of ${p.passes} passes (≥ ${p.minQueriesPerPass} queries each)`,
    '',
    ...searchTable(results, ENGINES),
    '',
    ...memoryTable(results),
    '',
  ];
  const problems = data.warnings ?? [];
  if (problems.length) lines.push('Warnings:', ...problems.map((x) => `- ${x}`), '');
  return { md: lines, charts: [] };
}

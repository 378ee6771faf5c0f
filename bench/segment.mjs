/**
 * Native-core benchmark: shoal's Segment against hnswlib-node on the same data, in the same run.
 *
 *   npm run build && node bench/segment.mjs [--quick]
 *
 * The parent prepares (and caches) the datasets, then runs each engine x dataset in its own child
 * process (`--child <engine> <dataset>`), so no measurement inherits another's heap, allocator
 * arenas or JIT state. Each child prints one JSON line; the parent prints Markdown tables and writes
 * the raw results to bench/results/segment.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runJsonChild } from './lib/child.mjs';
import { loadDataset } from './lib/datasets.mjs';
import { gitCommit } from './lib/git.mjs';
import { hostFacts } from './lib/host.mjs';
import { EFS, GRAPH, K, MIN_QUERIES_PER_PASS, PASSES, WARMUP_QUERIES, measureSearch } from './lib/protocol.mjs';
import { machineLines, memoryTable, searchTable, warnings } from './lib/report.mjs';

const ENGINES = ['shoal', 'hnswlib-node'];
const DIM = 128; // every dataset here is 128-d; the child checks
const SELF = fileURLToPath(import.meta.url);
const RESULTS = fileURLToPath(new URL('./results/segment.json', import.meta.url));

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1], args[2]);
else await parent(args.includes('--quick'));

async function child(engineName, datasetName) {
  const engine = await import(`./lib/engines/${engineName}.mjs`);
  const probe = engine.probe ? await engine.probe(DIM) : undefined;
  const ds = loadDataset(datasetName);
  if (ds.dim !== DIM) throw new Error(`${datasetName}: dim ${ds.dim}, the probe assumed ${DIM}`);
  const run = await engine.build(ds);
  const search = measureSearch(run, ds);
  const finish = await run.finish();
  const n = ds.base.length / ds.dim;
  const result = {
    engine: engineName,
    dataset: datasetName,
    n,
    dim: ds.dim,
    truthRows: ds.truth.length / ds.k,
    facts: engine.facts(),
    buildSeconds: run.buildSeconds,
    memory: { ...probe, ...run.memory },
    search,
    finish,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function parent(quick) {
  const datasets = quick ? ['siftsmall', 'gauss20k'] : ['siftsmall', 'gauss100k'];
  // Generate and cache data (and brute-force ground truth) before anything is timed.
  for (const d of datasets) loadDataset(d);

  const results = [];
  for (const d of datasets) {
    for (const e of ENGINES) {
      process.stderr.write(`[segment] ${e} on ${d} ...\n`);
      results.push(await runChild(e, d));
    }
  }

  const machine = machineFacts(results);
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
  const lines = [
    `# shoal segment benchmark${quick ? ' (--quick)' : ''}`,
    '',
    ...machineLines(machine),
    `- M=${GRAPH.M}, efConstruction=${GRAPH.efConstruction}, k=${K}, 1 thread; ${WARMUP_QUERIES} warm-up queries, best of ${PASSES} passes (≥ ${MIN_QUERIES_PER_PASS} queries each)`,
    '',
    ...searchTable(results, ENGINES),
    '',
    ...memoryTable(results),
    '',
  ];
  const problems = warnings(results, ENGINES);
  if (problems.length) lines.push('Warnings:', ...problems.map((p) => `- ${p}`), '');
  process.stdout.write(`${lines.join('\n')}\n`);

  mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({ command: commandLine(quick), quick, machine, protocol, results, warnings: problems }, null, 2)}\n`);
  process.stderr.write(`[segment] raw results in ${RESULTS}\n`);
}

/** Runs one measurement in a fresh Node process; --expose-gc lets it settle RSS readings. */
function runChild(engine, dataset) {
  return runJsonChild(['--expose-gc', SELF, '--child', engine, dataset], { label: `${engine} ${dataset}` });
}

function machineFacts(results) {
  const facts = (e) => results.find((r) => r.engine === e)?.facts ?? {};
  return {
    ...hostFacts(),
    shoalKernel: facts('shoal').buildInfo?.kernel,
    shoalBuildInfo: facts('shoal').buildInfo,
    shoalAddonBuilt: facts('shoal').addonBuilt,
    hnswlibNodeVersion: facts('hnswlib-node').version,
    commit: gitCommit(),
  };
}

function commandLine(quick) {
  return `npm run build && node bench/segment.mjs${quick ? ' --quick' : ''}`;
}

/**
 * `npm start`: the main demo. Ingests a data set into a collection through the worker pool
 * (showing progress), queries it, and reports recall@10 against exact ground truth,
 * throughput, latency and memory.
 *
 *   npm start                          50,000 x 128 deterministic Gaussian mixture, ephemeral
 *   npm start -- --fvecs base.fvecs    your vectors (queries: 500 of them, held out)
 *   npm start -- --path ./data --n 100000 --threads 2 --shards 2
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { native, Shoal } from '../index.js';
import { exactNeighbours, gaussianMixture, readFvecs, type Dataset } from './dataset.js';

const { values: args } = parseArgs({
  options: {
    fvecs: { type: 'string' },
    path: { type: 'string' },
    n: { type: 'string', default: '50000' },
    queries: { type: 'string', default: '500' },
    threads: { type: 'string' },
    shards: { type: 'string', default: '2' },
    batch: { type: 'string', default: '2000' },
  },
});

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const rate = (count: number, ms: number): string => `${Math.round((count / ms) * 1000).toLocaleString('en-US')}/s`;

function loadData(): Dataset {
  const nq = Number(args.queries);
  if (args.fvecs !== undefined) {
    const { dim, vectors } = readFvecs(args.fvecs);
    const n = vectors.length / dim - nq;
    return { name: args.fvecs, dim, base: vectors.subarray(0, n * dim), queries: vectors.subarray(n * dim) };
  }
  return gaussianMixture(Number(args.n), nq, 128);
}

const data = loadData();
const n = data.base.length / data.dim;
const nq = data.queries.length / data.dim;
console.log(`shoal demo: ${data.name} (${n.toLocaleString('en-US')} vectors, ${nq} queries, dim ${data.dim})`);
console.log(`kernel ${native.buildInfo().kernel}; computing exact ground truth ...`);
const truth = exactNeighbours(data, 10);

const db = await Shoal.open({ path: args.path, threads: args.threads === undefined ? undefined : Number(args.threads) });
try {
  console.log(`database at ${db.path}${db.ephemeral ? ' (ephemeral)' : ''}, ${db.threads} worker threads`);
  const name = `demo-${Date.now()}`;
  const col = await db.createCollection(name, { dim: data.dim, space: 'l2', shards: Number(args.shards) });

  const batch = Number(args.batch);
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  let done = 0;
  for (let from = 0; from < n; from += batch) {
    const count = Math.min(batch, n - from);
    const ids = Array.from({ length: count }, (_, i) => String(from + i));
    inFlight.push(
      col.add(ids, data.base.subarray(from * data.dim, (from + count) * data.dim)).then(() => {
        done += count;
        const pct = Math.floor((done / n) * 100);
        process.stdout.write(`\ringest ${done.toLocaleString('en-US')}/${n.toLocaleString('en-US')} (${pct}%) ${rate(done, performance.now() - started)}   `);
      }),
    );
    if (inFlight.length >= db.threads * 2) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const ingestMs = performance.now() - started;
  process.stdout.write('\n');

  const t0 = performance.now();
  const results = await col.query(data.queries, { k: 10 });
  const batchMs = performance.now() - t0;
  let hits = 0;
  results.forEach((r, q) => {
    const want = new Set(Array.from(truth.subarray(q * 10, q * 10 + 10), String));
    for (const id of r.ids) if (want.has(id)) hits++;
  });

  const latencies: number[] = [];
  for (let q = 0; q < Math.min(nq, 200); q++) {
    const t = performance.now();
    await col.query(data.queries.subarray(q * data.dim, (q + 1) * data.dim), { k: 10 });
    latencies.push((performance.now() - t) * 1000);
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] as number;

  console.log(`recall@10        ${(hits / (nq * 10)).toFixed(4)} (ef ${col.efSearch})`);
  console.log(`ingest           ${rate(n, ingestMs)} (${(ingestMs / 1000).toFixed(1)} s, ${col.shardCount} shards)`);
  console.log(`query, batched   ${rate(nq, batchMs)}`);
  console.log(`query, one       p50 ${pct(0.5).toFixed(0)} µs, p99 ${pct(0.99).toFixed(0)} µs`);
  console.log(`native memory    ${mb(native.totalBytes())} exact (${(native.totalBytes() / n).toFixed(0)} bytes/vector)`);
  const mem = process.memoryUsage();
  console.log(`process          RSS ${mb(mem.rss)}, JS heap ${mb(mem.heapUsed)}, external ${mb(mem.external)}`);
  if (!db.ephemeral) await db.deleteCollection(name);
} finally {
  await db.close();
}

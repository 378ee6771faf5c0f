/**
 * Scenario "serving": what `shoal serve` costs the queries it serves. One process holds the
 * database and the HTTP server (src/server/app.ts, listening on 127.0.0.1) and runs a steady
 * query load: 64 callers in flight, one query vector per col.query call, on one collection.
 * A separate scraper process fetches GET /metrics every second, as Prometheus would, during
 * every other round. Rounds alternate off/on so that drift of the machine falls on both; the
 * change is the median of the on/off ratios of adjacent rounds (the goal: scraping changes QPS
 * by < 2 %). On a busy machine that ratio is noisy, so the scenario also measures the cost
 * directly: the server process's CPU time per scrape (a burst of scrapes with no query load,
 * process.cpuUsage), and registry.metrics() alone; CPU per scrape / 1 s is the share of one
 * core that one scrape per second takes from the queries.
 * Data: siftsmall (10,000 × 128-d; --smoke: its first 1,000), plus 20 small collections so the
 * metrics have per-collection series to write.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

import { loadDataset } from '../lib/datasets.mjs';
import { fmt, now, percentile, table } from '../lib/common.mjs';

const K = 10;
const EF = 64;
const IN_FLIGHT = 64;
const TENANTS = 20;

export async function run(ctx) {
  const dataset = ctx.smoke ? 'sift1k' : 'siftsmall';
  loadDataset(dataset);
  const threads = Math.min(2, availableParallelism());
  const rounds = ctx.smoke ? 1 : ctx.quick ? 15 : 30;
  const seconds = ctx.smoke ? 0.3 : 2;
  const burst = ctx.smoke ? 20 : 200; // scrapes timed for the CPU cost, and renders timed alone
  const scrapeMs = Number(ctx.opts['scrape-ms'] ?? 1000);
  return { rows: await ctx.runTasks([{ label: `serving t${threads}`, cfg: { dataset, threads, rounds, seconds, scrapeMs, burst } }]) };
}

// The scraper: a separate process, switched on and off through stdin, as Prometheus would be.
const SCRAPER = `
const [url, every] = process.argv.slice(1);
let on = false; let times = [];
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { for (const cmd of d.split('\\n')) {
  if (cmd === 'on') on = true;
  else if (cmd === 'off') { on = false; process.stdout.write(JSON.stringify(times) + '\\n'); times = []; }
  else if (cmd.startsWith('burst ')) burst(Number(cmd.slice(6)));
  else if (cmd === 'exit') process.exit(0);
} });
async function scrape() {
  const res = await fetch(url); await res.text();
  if (res.status !== 200) throw new Error('scrape: HTTP ' + res.status);
}
async function burst(n) { for (let i = 0; i < n; i++) await scrape(); process.stdout.write('[]\\n'); }
setInterval(async () => {
  if (!on) return;
  const t = performance.now();
  await scrape();
  times.push(performance.now() - t);
}, Number(every));
`;

export async function child({ dataset, threads, rounds, seconds, scrapeMs, burst }) {
  const { Shoal } = await import('../../dist/index.js');
  const { createServer } = await import('../../dist/server/app.js');
  const ds = loadDataset(dataset);
  const n = ds.base.length / ds.dim;
  const nq = ds.queries.length / ds.dim;
  const db = await Shoal.open({ threads });
  const app = await createServer(db);
  let scraper = null;
  try {
    const col = await db.createCollection('c', { dim: ds.dim, M: 16, efConstruction: 200 });
    const ids = Array.from({ length: n }, (_, i) => String(i));
    for (let i = 0; i < n; i += 5000) await col.add(ids.slice(i, i + 5000), ds.base.subarray(i * ds.dim, Math.min(n, i + 5000) * ds.dim));
    for (let t = 0; t < TENANTS; t++) {
      const small = await db.createCollection(`tenant-${t}`, { dim: ds.dim });
      await small.add([`${t}-a`, `${t}-b`], ds.base.subarray(0, 2 * ds.dim));
    }
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${app.server.address().port}/metrics`;

    // Server-side cost of one scrape, measured alone.
    const registry = await db.metrics();
    const renderMs = [];
    for (let i = 0; i < burst; i++) {
      const t = now();
      await registry.metrics();
      renderMs.push(now() - t);
    }
    const metricsBytes = (await (await fetch(url)).text()).length;

    scraper = spawn(process.execPath, ['-e', SCRAPER, url, String(scrapeMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = [];
    let waiting = null;
    scraper.stdout.setEncoding('utf8').on('data', (d) => {
      for (const l of d.split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      waiting?.();
    });
    let died = null;
    scraper.on('exit', (code) => {
      died = new Error(`the scraper process exited (${code})`);
      waiting?.();
    });
    const scrapeTimes = async () => {
      while (lines.length === 0) {
        if (died !== null) throw died;
        await new Promise((r) => (waiting = r));
      }
      return lines.shift();
    };

    // CPU time of this process per scrape, with no query load: fastify, db.stats(), prom-client.
    scraper.stdin.write(`burst ${Math.min(20, burst)}\n`);
    await scrapeTimes(); // warm-up
    const cpu0 = process.cpuUsage();
    scraper.stdin.write(`burst ${burst}\n`);
    await scrapeTimes();
    const cpu = process.cpuUsage(cpu0);
    const cpuMsPerScrape = (cpu.user + cpu.system) / 1000 / burst;

    const rows = Array.from({ length: nq }, (_, i) => ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim));
    const load = async (ms) => {
      let next = 0;
      let done = 0;
      const t0 = now();
      const end = t0 + ms;
      const lane = async () => {
        while (now() < end) {
          await col.query(rows[next++ % nq], { k: K, ef: EF });
          done++;
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
      return done / ((now() - t0) / 1000);
    };
    await load(500); // warm-up
    const off = [];
    const on = [];
    const scrapes = [];
    for (let r = 0; r < rounds * 2; r++) {
      const scraping = r % 2 === 1;
      if (scraping) scraper.stdin.write('on\n');
      const qps = await load(seconds * 1000);
      if (scraping) {
        scraper.stdin.write('off\n');
        scrapes.push(...(await scrapeTimes()));
        on.push(qps);
      } else off.push(qps);
    }
    const median = (v) => percentile(v, 50);
    const pairRatios = on.map((q, i) => q / off[i]);
    return {
      dataset, n, dim: ds.dim, threads, inFlight: IN_FLIGHT, tenants: TENANTS, rounds, seconds, scrapeMs,
      qpsOff: off, qpsOn: on, medianOff: median(off), medianOn: median(on), change: median(pairRatios) - 1, pairRatios, cpuMsPerScrape,
      scrapes: scrapes.length, scrapeMsP50: median(scrapes), scrapeMsP99: percentile(scrapes, 99),
      renderMsP50: median(renderMs), renderMsP99: percentile(renderMs, 99), metricsBytes,
    };
  } finally {
    scraper?.stdin.write('exit\n');
    await app.close();
    await db.close();
  }
}

export function report(data) {
  const r = data.rows.find((x) => !x.error);
  if (r === undefined) return { md: [], charts: [] };
  const pct = (x) => `${(x * 100).toFixed(2)} %`;
  const md = [
    `One process serves ${fmt(r.n)} × ${r.dim}-d vectors (${r.dataset}) plus ${r.tenants} small collections over HTTP, with ${r.threads} pool threads, while ${r.inFlight} callers in flight query one vector per call (k=${K}, ef=${EF}). A separate process scrapes GET /metrics every ${r.scrapeMs} ms during every other round of ${r.seconds} s (${r.rounds} rounds each).`,
    '',
    ...table(
      ['', 'median QPS', 'range over rounds'],
      [
        ['not scraped', fmt(r.medianOff), `${fmt(Math.min(...r.qpsOff))} to ${fmt(Math.max(...r.qpsOff))}`],
        ['scraped every second', fmt(r.medianOn), `${fmt(Math.min(...r.qpsOn))} to ${fmt(Math.max(...r.qpsOn))}`],
      ],
    ),
    '',
    `Change in QPS while scraped (median of the on/off ratios of adjacent rounds): **${pct(r.change)}** (goal: within ±2 %; the spread of the rounds shows how much of it is the machine). Measured directly: one scrape costs the server process ${fmt(r.cpuMsPerScrape, 2)} ms of CPU (fastify, db.stats(), prom-client; a burst of scrapes with no query load), i.e. **${pct(r.cpuMsPerScrape / r.scrapeMs)} of one core** at one scrape per ${r.scrapeMs} ms; rendering the ${fmt(r.metricsBytes)}-byte exposition (registry.metrics()) alone takes p50 ${fmt(r.renderMsP50, 3)} ms. Scrapes under load took p50 ${fmt(r.scrapeMsP50, 2)} ms, p99 ${fmt(r.scrapeMsP99, 2)} ms end to end (${fmt(r.scrapes)} scrapes).`,
    '',
  ];
  return { md, charts: [] };
}

/**
 * `shoal monitor URL|DIR`: a terminal view of a database.
 *
 * URL (a `shoal serve` server): polls GET /v1/stats and redraws in place every interval: memory
 * used against the limit and the thresholds, the hit rate (overall and since the last frame),
 * residency per collection, evictions by reason and the most recent ones.
 * DIR (a data directory no process has open): opens it without warm start, prints its static
 * facts (collections, sizes, files on disk) once and closes it. A directory in use is refused
 * by its lock: monitor the server that holds it by URL instead.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { LockedError, Shoal, type ShoalStats } from '../../index.js';
import type { StatsFeed } from '../../server/app.js';
import { EXIT_USAGE, UsageError, type Command } from '../command.js';

const USAGE = `usage: shoal monitor URL|DIR [--interval MS] [--once]

URL   a \`shoal serve\` server (http://127.0.0.1:7700): a live view, refreshed in place;
      q or Ctrl-C quits
DIR   a data directory no process has open: its static facts, printed once

options:
  --interval MS   how often to poll the server (default 1000)
  --once          print one frame and exit (URL)`;

const NO_LIMIT = Number.MAX_SAFE_INTEGER;
const BAR = 40;

export function formatBytes(n: number): string {
  if (n >= NO_LIMIT) return 'no limit';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

/** The memory bar: '#' used, '.' free, '|' at each threshold (drawn over both, so it always shows). */
export function memoryBar(used: number, limit: number, thresholds: readonly number[], width = BAR): string {
  if (limit >= NO_LIMIT) return '';
  const cells: string[] = Array.from({ length: width }, (_, i) => (i < Math.round((used / limit) * width) ? '#' : '.'));
  for (const t of thresholds) {
    const at = Math.min(width - 1, Math.floor(t * width));
    cells[at] = '|';
  }
  return `[${cells.join('')}]`;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd());
}

/** One frame of the live view: lines of text, no escape codes. `previous` gives the rates since the last frame. */
export function renderFrame(source: string, feed: StatsFeed, previous: ShoalStats | null): string[] {
  const s = feed.stats;
  const t = feed.config.thresholds;
  const lines = [`shoal monitor  ${source}  ${new Date(feed.atMs).toISOString()}  health: ${feed.health.status}`];
  for (const reason of feed.health.reasons) lines.push(`  ! ${reason}`);
  lines.push('');
  const limited = s.limitBytes < NO_LIMIT;
  lines.push(`memory   ${memoryBar(s.usedBytes, s.limitBytes, [t.soft, t.hard, t.emergency])} ${formatBytes(s.usedBytes)} / ${formatBytes(s.limitBytes)}${limited ? ` (${pct(s.usedBytes / s.limitBytes)})` : ''}  level ${s.level}`);
  if (limited) lines.push(`         thresholds: soft ${pct(t.soft)}, hard ${pct(t.hard)}, emergency ${pct(t.emergency)}`);
  lines.push(`         peak ${formatBytes(s.peakBytes)}, resident ${formatBytes(s.residentBytes)}, reserved ${formatBytes(s.reservedBytes)}, pinned ${formatBytes(s.pinnedBytes)}`);
  let recent = '';
  if (previous !== null) {
    const hits = s.hits - previous.hits;
    const lookups = hits + s.misses - previous.misses;
    recent = lookups > 0 ? `, since last frame ${pct(hits / lookups)} of ${lookups}` : ', no lookups since last frame';
  }
  lines.push(`cache    hit rate ${s.hits + s.misses === 0 ? '-' : pct(s.hitRate)} (${s.hits} hits, ${s.misses} misses${recent})`);
  lines.push(`         loads ${s.loads} (p50 ${s.loadMsP50.toFixed(1)} ms, p99 ${s.loadMsP99.toFixed(1)} ms), rejections ${s.rejections}`);
  lines.push(`evictions ${Object.entries(s.evictions).map(([r, n]) => `${r} ${n}`).join(', ')}`);
  lines.push('');
  const share = limited ? s.limitBytes : Math.max(1, s.usedBytes);
  lines.push(...table([
    ['collection', 'vectors', 'resident', 'bytes', 'share'],
    ...s.collections.map((c) => [
      c.failure === null ? c.name : `${c.name} (FAILED)`, String(c.count), `${c.residentShards}/${c.shards}`, formatBytes(c.bytes),
      '#'.repeat(Math.round((c.bytes / share) * 20)) || '-',
    ]),
  ]));
  lines.push('', 'recent evictions');
  const last = s.recentEvictions.slice(-8).reverse();
  if (last.length === 0) lines.push('  none');
  for (const e of last) {
    lines.push(`  ${new Date(e.atMs).toISOString().slice(11, 19)}  ${e.collection}#${e.shard}  ${formatBytes(e.bytes)}  ${e.reason}${e.flushed ? ' (flushed)' : ''}`);
  }
  return lines;
}

function statsUrl(url: string): string {
  const u = new URL(url);
  if (!u.pathname.endsWith('/v1/stats')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/stats`;
  return u.toString();
}

async function fetchFeed(url: string): Promise<StatsFeed> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as StatsFeed;
}

async function watch(url: string, intervalMs: number, once: boolean): Promise<number> {
  const target = statsUrl(url);
  const out = process.stdout;
  const tty = out.isTTY === true && !once;
  let previous: ShoalStats | null = null;
  let stop: (() => void) | null = null;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const quit = (): void => stop?.();
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  if (tty && process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.resume();
    process.stdin.on('data', (key: Buffer) => {
      if (key[0] === 0x71 || key[0] === 0x03) quit(); // q, Ctrl-C
    });
  }
  if (tty) out.write('\x1b[?25l\x1b[2J');
  let status = 0;
  try {
    for (;;) {
      let lines: string[];
      try {
        const feed = await fetchFeed(target);
        lines = renderFrame(url, feed, previous);
        previous = feed.stats;
        status = 0;
      } catch (err) {
        const cause = (err as { cause?: { code?: unknown } }).cause?.code;
        lines = [`shoal monitor  ${url}`, '', `cannot reach the server: ${(err as Error).message}${typeof cause === 'string' ? ` (${cause})` : ''}; retrying every ${intervalMs} ms`];
        status = 1;
      }
      // Redraw in place: home, each line cleared to its end, then everything below cleared.
      out.write(tty ? `\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J` : `${lines.join('\n')}\n`);
      if (once) return status;
      let timer: NodeJS.Timeout | undefined;
      const next = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), intervalMs)));
      const go = await Promise.race([next, stopped.then(() => false)]);
      clearTimeout(timer);
      if (!go) return 0;
    }
  } finally {
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
    if (tty) out.write('\x1b[?25h');
    if (tty && process.stdin.isTTY) {
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
  }
}

function diskBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

async function staticFacts(dir: string): Promise<number> {
  if (!existsSync(join(dir, 'MANIFEST'))) {
    process.stderr.write(`shoal monitor: ${dir} is not a shoal data directory (no MANIFEST)\n`);
    return 1;
  }
  let db: Shoal;
  try {
    db = await Shoal.open({ path: dir, warmStart: false });
  } catch (err) {
    if (err instanceof LockedError) {
      process.stderr.write(`shoal monitor: ${dir} is open in another process${err.details.pid === undefined ? '' : ` (pid ${err.details.pid})`}; monitor the server that holds it by URL, e.g. shoal monitor http://127.0.0.1:7700\n`);
      return 1;
    }
    throw err;
  }
  try {
    const s = db.stats();
    const lines = [`shoal monitor  ${db.path}  (not open in any process: static facts)`, ''];
    lines.push(...table([
      ['collection', 'vectors', 'dim', 'space', 'shards', 'priority', 'on disk', 'state'],
      ...s.collections.map((c) => {
        const col = db.getCollection(c.name);
        return [c.name, String(c.count), String(col.dim), col.space, String(c.shards), c.priority, formatBytes(diskBytes(join(db.path, 'collections', c.name))), c.failure === null ? 'ok' : `FAILED: ${c.failure}`];
      }),
    ]));
    lines.push('', `data directory ${formatBytes(diskBytes(db.path))} on disk; log replayed at open: ${db.recovery.replayedRecords} records`);
    lines.push('run `shoal serve` on it and `shoal monitor URL` to watch memory, hit rate and evictions live');
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

export const monitor: Command = {
  name: 'monitor',
  summary: 'live terminal view of a server (URL), or the static facts of a closed data directory (DIR)',
  usage: USAGE,
  async run(argv) {
    let target: string;
    let intervalMs: number;
    let once: boolean;
    try {
      const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { interval: { type: 'string' }, once: { type: 'boolean' } } });
      if (positionals.length !== 1) throw new UsageError(`expected one URL or data directory, got ${positionals.length}`);
      target = positionals[0] as string;
      intervalMs = Number(values.interval ?? 1000);
      if (!Number.isInteger(intervalMs) || intervalMs < 50) throw new UsageError(`--interval: must be an integer of at least 50 (ms), got ${values.interval}`);
      once = values.once === true;
    } catch (err) {
      process.stderr.write(`shoal monitor: ${(err as Error).message}\n\n${USAGE}\n`);
      return EXIT_USAGE;
    }
    return /^https?:\/\//i.test(target) ? watch(target, intervalMs, once) : staticFacts(target);
  },
};

/**
 * How much CPU other processes used while we measured (Linux /proc): on a 2-core VM shared with
 * other work, a phase that competed for the cores says so in the results instead of silently
 * reporting a slow number. Jiffies are 10 ms, so use it over phases of a second or more.
 */
import { readFileSync } from 'node:fs';

function snapshot() {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = cpu;
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal, self: Number(f[11]) + Number(f[12]), t: process.hrtime.bigint() };
  } catch {
    return null; // not Linux
  }
}

/** Starts a meter; calling the result returns what happened since, in cores (1 = one core busy the whole time). */
export function cpuMeter() {
  const a = snapshot();
  return () => {
    const b = snapshot();
    if (!a || !b) return null;
    const hz = 100; // USER_HZ
    const seconds = Number(b.t - a.t) / 1e9;
    const cores = (j) => j / hz / seconds;
    return {
      seconds,
      selfCores: cores(b.self - a.self),
      otherCores: Math.max(0, cores(b.busy - a.busy - (b.self - a.self))),
      stealCores: cores(b.steal - a.steal),
    };
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Seconds quietly() may spend waiting for quiet in this process, in all. */
let waitBudgetSeconds = Number(process.env.BENCH_QUIET_BUDGET_SECONDS ?? 600);

/** Other processes' average cores above which a measurement counts as disturbed. */
export const DISTURBED_CORES = 0.15;

/** Disturbed: other processes used > DISTURBED_CORES on average and > 30 ms of CPU in all (a jiffy is 10 ms). */
export const disturbed = (cpu) => !!cpu && cpu.otherCores > DISTURBED_CORES && cpu.otherCores * cpu.seconds > 0.03;

/** Polls in `windowMs` windows until other processes use < 0.1 core (or maxSeconds pass). */
export async function waitQuiet(maxSeconds, windowMs = 1000) {
  const t0 = Date.now();
  for (;;) {
    const meter = cpuMeter();
    await sleep(windowMs);
    const m = meter();
    const waitedSeconds = (Date.now() - t0) / 1000;
    if (!m || m.otherCores < 0.1) return { waitedSeconds: waitedSeconds - windowMs / 1000, otherCores: m?.otherCores ?? null };
    if (waitedSeconds > maxSeconds) return { waitedSeconds, otherCores: m.otherCores, gaveUp: true };
  }
}

/**
 * Runs a measurement; if other processes disturbed it, waits for quiet and runs it again (up to
 * `retries` more times), returning the least disturbed attempt's value, its CPU reading and the
 * number of attempts. Only for measurements that are cheap to repeat and keep no state.
 */
export async function quietly(fn, { retries = 3, maxWaitSeconds = 120 } = {}) {
  const attempts = [];
  for (let a = 0; a <= retries; a++) {
    if (a > 0) {
      // A process-wide budget for these waits: under constant load, stop waiting and repeating.
      if (waitBudgetSeconds <= 0) break;
      const w = await waitQuiet(Math.min(maxWaitSeconds, waitBudgetSeconds));
      waitBudgetSeconds -= w.waitedSeconds + 1;
    }
    const meter = cpuMeter();
    const value = await fn();
    const cpu = meter();
    attempts.push({ value, cpu });
    if (!disturbed(cpu)) break;
  }
  const other = (x) => x.cpu?.otherCores ?? 0;
  const best = attempts.reduce((x, y) => (other(y) < other(x) ? y : x));
  return { value: best.value, cpu: best.cpu, attempts: attempts.length };
}

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

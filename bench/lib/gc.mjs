/** Main-thread garbage collections during a measurement (perf_hooks 'gc' entries). */
import { PerformanceObserver, constants } from 'node:perf_hooks';

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** Starts watching; the returned function stops and returns { count, totalMs, maxMs, byKind }. */
export function gcWatch() {
  const entries = [];
  const obs = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  obs.observe({ entryTypes: ['gc'] });
  return () => {
    entries.push(...obs.takeRecords());
    obs.disconnect();
    const byKind = {};
    let totalMs = 0;
    let maxMs = 0;
    for (const e of entries) {
      const kind = KINDS[e.detail?.kind ?? e.kind] ?? 'other';
      byKind[kind] ??= { count: 0, ms: 0 };
      byKind[kind].count++;
      byKind[kind].ms += e.duration;
      totalMs += e.duration;
      maxMs = Math.max(maxMs, e.duration);
    }
    return { count: entries.length, totalMs, maxMs, byKind };
  };
}

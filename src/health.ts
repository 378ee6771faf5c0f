/**
 * db.health(): one word for an operator or a load balancer, and the reasons behind it, derived
 * from a stats snapshot. Pure: the same figures give the same answer, so it is tested without a
 * database.
 *
 * - critical: the database cannot do its job; a load balancer should stop sending traffic
 *   (memory at the emergency level refuses loads and growth; a failed log refuses every write).
 * - degraded: it serves, but something needs attention (hard memory pressure evicts on every
 *   admission; a collection failed on damaged files; the ledger overshot, which is a bug).
 * - ok: nothing above. The soft level is ordinary cache work and does not count.
 */
import type { ShoalStats } from './coordinator/stats.js';

export type HealthStatus = 'ok' | 'degraded' | 'critical';

export interface Health {
  readonly status: HealthStatus;
  /** Why the status is not 'ok', one sentence each; empty when it is. */
  readonly reasons: readonly string[];
}

/** The stats fields health reads. */
export type HealthInput = Pick<ShoalStats, 'level' | 'usedBytes' | 'limitBytes' | 'logFailed' | 'overshoots'> & {
  readonly collections: readonly Pick<ShoalStats['collections'][number], 'name' | 'failure'>[];
};

const RANK: Record<HealthStatus, number> = { ok: 0, degraded: 1, critical: 2 };

export function assessHealth(s: HealthInput): Health {
  const found: [HealthStatus, string][] = [];
  const memory = `${s.usedBytes} of ${s.limitBytes} bytes`;
  if (s.level === 'emergency') found.push(['critical', `memory at the emergency level (${memory}): new loads and growth are refused`]);
  else if (s.level === 'hard') found.push(['degraded', `memory at the hard level (${memory}): every admission evicts first`]);
  if (s.logFailed) found.push(['critical', 'the write-ahead log failed: writes are refused until the database is reopened']);
  for (const c of s.collections) {
    if (c.failure !== null) found.push(['degraded', `collection ${JSON.stringify(c.name)} is failed: ${c.failure}`]);
  }
  if (s.overshoots > 0) found.push(['degraded', `the memory ledger overshot its reservations ${s.overshoots} times (a bug; please report it)`]);
  const status = found.reduce<HealthStatus>((worst, [st]) => (RANK[st] > RANK[worst] ? st : worst), 'ok');
  return { status, reasons: found.map(([, reason]) => reason) };
}

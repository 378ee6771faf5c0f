/**
 * Which resident segments to evict. Pure: plain data in, a plan out; no I/O, no timers.
 * The governor carries plans out.
 */
export type Priority = 'low' | 'medium' | 'high' | 'critical';
export const PRIORITIES: readonly Priority[] = ['low', 'medium', 'high', 'critical'];
const RANK: Record<Priority, number> = { low: 0, medium: 1, high: 2, critical: 3 };
/** Priorities as numbers, low to critical. */
export const RANK_OF: Readonly<Record<Priority, number>> = RANK;

export type EvictionReason = 'expired' | 'priority' | 'lru' | 'threshold' | 'manual' | 'reconfigure';

export interface Resident {
  readonly key: string;
  readonly collection: string;
  readonly bytes: number;
  readonly priority: Priority;
  readonly lastUsedMs: number;
  readonly pinned: boolean;
  /** A call is using it right now. */
  readonly busy: boolean;
}

export interface Victim {
  readonly key: string;
  readonly bytes: number;
  readonly reason: EvictionReason;
}

export interface PolicyConfig {
  readonly limitBytes: number;
  readonly targetFraction: number;
  readonly ttlMs: number;
}

export type Admission =
  | { readonly kind: 'admit' }
  | { readonly kind: 'evict'; readonly victims: readonly Victim[] }
  | { readonly kind: 'reject'; readonly wantedBytes: number; readonly usedBytes: number; readonly pinnedBytes: number };

export function isExpired(r: Resident, ttlMs: number, nowMs: number): boolean {
  return ttlMs > 0 && nowMs - r.lastUsedMs >= ttlMs;
}

export function isEvictable(r: Resident): boolean {
  return !r.pinned && !r.busy && r.priority !== 'critical';
}

/** Expired first, then lowest priority, then least recently used. Never pinned, critical or busy. */
export function orderForEviction(residents: readonly Resident[], ttlMs: number, nowMs: number): Resident[] {
  return residents
    .filter(isEvictable)
    .sort(
      (a, b) =>
        Number(isExpired(b, ttlMs, nowMs)) - Number(isExpired(a, ttlMs, nowMs)) ||
        RANK[a.priority] - RANK[b.priority] ||
        a.lastUsedMs - b.lastUsedMs ||
        (a.key < b.key ? -1 : 1),
    );
}

/** 'priority' when a higher-priority segment stays because this one goes; else 'lru'. */
function reasonFor(r: Resident, highestEvictable: Priority, ttlMs: number, nowMs: number): EvictionReason {
  if (isExpired(r, ttlMs, nowMs)) return 'expired';
  return r.priority !== highestEvictable && RANK[r.priority] < RANK.high ? 'priority' : 'lru';
}

/**
 * Plans room for `wantedBytes` more. `usedBytes` counts residents and reservations.
 *
 * Two depths. A request that does not fit the limit evicts down to the target, so the next
 * ones fit too. A request that fits but would leave usage above `ceilingFraction` of the limit
 * (the governor passes the hard threshold when usage is at or would reach the hard level,
 * see admissionCeiling) evicts only until it stays under that ceiling: at the hard level every
 * admission makes its own room, and segments that are still wanted are not evicted in a batch
 * only to be loaded again (on a Zipf workload, batch eviction to 0.75 doubled the misses of
 * evicting just enough). A rejection changes nothing.
 */
export function planAdmission(
  residents: readonly Resident[],
  usedBytes: number,
  wantedBytes: number,
  cfg: PolicyConfig,
  nowMs: number,
  ceilingFraction = 1,
): Admission {
  const fitsLimit = usedBytes + wantedBytes <= cfg.limitBytes;
  if (fitsLimit && usedBytes + wantedBytes <= ceilingFraction * cfg.limitBytes) return { kind: 'admit' };
  const depth = fitsLimit ? ceilingFraction : Math.min(cfg.targetFraction, ceilingFraction);
  const keepAtMost = Math.max(0, depth * cfg.limitBytes - wantedBytes);
  const ordered = orderForEviction(residents, cfg.ttlMs, nowMs);
  const highest = ordered.reduce<Priority>((p, r) => (RANK[r.priority] > RANK[p] ? r.priority : p), 'low');
  const victims: Victim[] = [];
  let kept = usedBytes;
  for (const r of ordered) {
    if (kept <= keepAtMost) break;
    victims.push({ key: r.key, bytes: r.bytes, reason: reasonFor(r, highest, cfg.ttlMs, nowMs) });
    kept -= r.bytes;
  }
  if (kept + wantedBytes > cfg.limitBytes) {
    const pinnedBytes = residents.filter((r) => r.pinned).reduce((s, r) => s + r.bytes, 0);
    return { kind: 'reject', wantedBytes, usedBytes, pinnedBytes };
  }
  return victims.length === 0 ? { kind: 'admit' } : { kind: 'evict', victims };
}

/** Background eviction above the soft threshold: expired or low-priority segments, down to the target. */
export function planSoftEviction(residents: readonly Resident[], usedBytes: number, cfg: PolicyConfig, nowMs: number): Victim[] {
  const keepAtMost = cfg.targetFraction * cfg.limitBytes;
  const victims: Victim[] = [];
  let kept = usedBytes;
  for (const r of orderForEviction(residents, cfg.ttlMs, nowMs)) {
    if (kept <= keepAtMost) break;
    const expired = isExpired(r, cfg.ttlMs, nowMs);
    if (!expired && r.priority !== 'low') continue;
    victims.push({ key: r.key, bytes: r.bytes, reason: expired ? 'expired' : 'threshold' });
    kept -= r.bytes;
  }
  return victims;
}

/** Above the emergency threshold: everything evictable except critical (busy ones are drained). */
export function planEmergencyEviction(residents: readonly Resident[]): Victim[] {
  return residents
    .filter((r) => !r.pinned && r.priority !== 'critical')
    .map((r) => ({ key: r.key, bytes: r.bytes, reason: 'threshold' as const }));
}

/** Segments idle longer than the TTL (never pinned, busy or critical). */
export function planExpiry(residents: readonly Resident[], ttlMs: number, nowMs: number): Victim[] {
  return residents
    .filter((r) => isEvictable(r) && isExpired(r, ttlMs, nowMs))
    .map((r) => ({ key: r.key, bytes: r.bytes, reason: 'expired' as const }));
}

/** A resident shard that other calls hold, seen by a load that needs its bytes. */
export interface Holder {
  readonly key: string;
  /** Calls using the shard now. */
  readonly users: number;
  /** Of those, calls themselves waiting for an admission: waiting for them could wait forever. */
  readonly stalled: number;
  readonly pinned: boolean;
  readonly priority: Priority;
}

export type AdmissionWait =
  | { readonly kind: 'wait'; readonly forKeys: readonly string[]; readonly untilMs: number }
  | { readonly kind: 'reject' };

/**
 * A load that was refused: wait for a busy shard to be released, or fail now. It waits only for
 * shards that evicting could free (not pinned, not critical, not its own) and whose users
 * include at least one call that is not itself waiting for an admission: two calls each holding
 * what the other needs would otherwise wait for each other until the deadline. A shard being
 * unloaded frees its bytes without anyone's help: that is worth waiting for too. Pure.
 */
export function planAdmissionWait(
  holders: readonly Holder[],
  own: ReadonlySet<string>,
  evictionCouldFit: boolean,
  /** Shards being unloaded or evicted right now: their bytes are on their way out. */
  leaving: readonly string[],
  nowMs: number,
  deadlineMs: number,
): AdmissionWait {
  if (!evictionCouldFit || nowMs >= deadlineMs) return { kind: 'reject' };
  const forKeys = holders
    .filter((h) => !own.has(h.key) && !h.pinned && h.priority !== 'critical' && h.users > h.stalled)
    .map((h) => h.key)
    .concat(leaving.filter((key) => !own.has(key)));
  return forKeys.length === 0 ? { kind: 'reject' } : { kind: 'wait', forKeys, untilMs: deadlineMs };
}

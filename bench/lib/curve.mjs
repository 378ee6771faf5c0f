/**
 * Comparing engines "at equal recall": read a peer's QPS off its (recall, QPS) curve, measured
 * over a ladder of ef values, at the recall another engine reached. Pure.
 */

/**
 * Peer QPS at `recall`, linear in recall between the two measured points that bracket it
 * (points taken in ef order, so a flat or noisy stretch is still bracketed correctly).
 * null when `recall` lies outside the measured range (no extrapolation).
 * points: [{ ef, recall, qps }].
 */
export function qpsAtRecall(points, recall) {
  const pts = [...points].sort((a, b) => a.ef - b.ef);
  if (pts.length === 0) return null;
  if (recall < pts[0].recall) return null;
  for (let i = 0; i < pts.length; i++) {
    const a = pts[i];
    if (a.recall === recall) return { qps: a.qps, between: [a.ef, a.ef] };
    const b = pts[i + 1];
    if (!b) break;
    if (a.recall <= recall && recall <= b.recall && b.recall > a.recall) {
      const t = (recall - a.recall) / (b.recall - a.recall);
      return { qps: a.qps + t * (b.qps - a.qps), between: [a.ef, b.ef] };
    }
  }
  return null;
}

/**
 * The peer's point at the smallest measured ef whose recall is at least `recall`. Favours the
 * other engine: the peer pays for any recall surplus. null when no point reaches it.
 */
export function smallestEfAtLeast(points, recall) {
  return [...points].sort((a, b) => a.ef - b.ef).find((p) => p.recall >= recall) ?? null;
}

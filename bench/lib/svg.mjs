/** A small dependency-free SVG line chart: axes, ticks, legend, one polyline per series, dashed reference lines. */

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceTicks(lo, hi, count = 6) {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function logTicks(lo, hi) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of [1, 2, 5]) {
    const v = m * 10 ** e;
    if (v >= lo && v <= hi) ticks.push(v);
  }
  return ticks;
}

const label = (v) => (Math.abs(v) >= 1e4 ? `${Number((v / 1e3).toPrecision(3))}k` : String(Number(v.toPrecision(4))));

/**
 * series: [{ name, points: [[x, y], ...], dashed? }]; hlines: [{ y, label }] (dashed, e.g. a limit).
 * logX / logY: log10 axes (values must be > 0).
 */
export function lineChart({ title, xLabel, yLabel, series, hlines = [], logX = false, logY = false, width = 720, height = 420, markers = true }) {
  const m = { l: 70, r: 190, t: 36, b: 50 };
  const pw = width - m.l - m.r;
  const ph = height - m.t - m.b;
  const xs = series.flatMap((s) => s.points.map((p) => p[0])).filter(Number.isFinite);
  const ys = [...series.flatMap((s) => s.points.map((p) => p[1])), ...hlines.map((h) => h.y)].filter(Number.isFinite);
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (!logY && y0 > 0 && y0 < y1 * 0.5) y0 = 0;
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const xt = logX ? logTicks(x0, x1) : niceTicks(x0, x1);
  const yt = logY ? logTicks(y0, y1) : niceTicks(y0, y1 + (y1 - y0) * 0.05);
  if (!logX) [x0, x1] = [Math.min(x0, xt[0]), Math.max(x1, xt.at(-1))];
  if (!logY) [y0, y1] = [Math.min(y0, yt[0]), Math.max(y1, yt.at(-1))];
  const f = (v, lo, hi, log) => (log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo));
  const X = (v) => (m.l + f(v, x0, x1, logX) * pw).toFixed(1);
  const Y = (v) => (m.t + ph - f(v, y0, y1, logY) * ph).toFixed(1);
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  o.push(`<text x="${m.l + pw / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (const v of xt) o.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${m.t}" y2="${m.t + ph}" stroke="#eee"/><text x="${X(v)}" y="${m.t + ph + 16}" text-anchor="middle">${label(v)}</text>`);
  for (const v of yt) o.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/><text x="${m.l - 6}" y="${Number(Y(v)) + 4}" text-anchor="end">${label(v)}</text>`);
  o.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  o.push(`<text x="${m.l + pw / 2}" y="${height - 10}" text-anchor="middle">${esc(xLabel)}${logX ? ' (log)' : ''}</text>`);
  o.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}${logY ? ' (log)' : ''}</text>`);
  const legend = [];
  hlines.forEach((h, i) => {
    const c = h.color ?? '#000';
    o.push(`<line class="limit" x1="${m.l}" x2="${m.l + pw}" y1="${Y(h.y)}" y2="${Y(h.y)}" stroke="${c}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    legend.push({ name: h.label, color: c, dashed: true, i });
  });
  series.forEach((s, i) => {
    const c = s.color ?? COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!logX || p[0] > 0) && (!logY || p[1] > 0));
    o.push(`<polyline class="series" fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''} points="${pts.map((p) => `${X(p[0])},${Y(p[1])}`).join(' ')}"/>`);
    if (markers && pts.length <= 40) for (const p of pts) o.push(`<circle cx="${X(p[0])}" cy="${Y(p[1])}" r="2.5" fill="${c}"/>`);
    legend.push({ name: s.name, color: c, dashed: s.dashed });
  });
  legend.forEach((l, i) => {
    const y = m.t + 10 + i * 18;
    o.push(`<line x1="${m.l + pw + 12}" x2="${m.l + pw + 36}" y1="${y}" y2="${y}" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="6 4"' : ''}/><text x="${m.l + pw + 42}" y="${y + 4}">${esc(l.name)}</text>`);
  });
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}

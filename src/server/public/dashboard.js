// shoal's dashboard: polls GET /v1/stats and draws memory over time against the limit and the
// thresholds, residency per collection, the hit rate and evictions. Plain browser JavaScript,
// no build step and nothing fetched from outside the server. ?interval=MS changes the polling.
'use strict';

const POLL_MS = Number(new URLSearchParams(location.search).get('interval')) || 1000;
const HISTORY = 300; // points kept for the chart
const NO_LIMIT = Number.MAX_SAFE_INTEGER;
const history = [];
let polls = 0;

const $ = (id) => document.getElementById(id);

function bytes(n) {
  if (n >= NO_LIMIT) return 'no limit';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
const percent = (x) => `${(x * 100).toFixed(1)} %`;
const ms = (x) => `${x.toFixed(1)} ms`;

function text(id, value) {
  $(id).textContent = value;
}

function cell(row, value) {
  const td = document.createElement('td');
  if (value instanceof Node) td.appendChild(value); else td.textContent = String(value);
  row.appendChild(td);
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows.map((values) => {
    const tr = document.createElement('tr');
    for (const v of values) cell(tr, v);
    return tr;
  }));
}

function bar(fraction) {
  const outer = document.createElement('div');
  outer.className = 'bar';
  const inner = document.createElement('div');
  inner.style.width = `${Math.min(100, Math.max(0, fraction * 100)).toFixed(1)}%`;
  outer.appendChild(inner);
  return outer;
}

function draw(feed) {
  const canvas = $('memory');
  const ctx = canvas.getContext('2d');
  const { width, height } = canvas;
  const pad = 8;
  ctx.clearRect(0, 0, width, height);
  const limit = feed.stats.limitBytes;
  const hasLimit = limit < NO_LIMIT;
  const top = hasLimit ? limit * 1.05 : Math.max(1, ...history.map((p) => p.used)) * 1.25;
  const y = (v) => height - pad - (v / top) * (height - 2 * pad);
  const style = getComputedStyle(document.documentElement);
  const line = (value, color, dash) => {
    ctx.strokeStyle = style.getPropertyValue(color);
    ctx.setLineDash(dash);
    ctx.beginPath();
    ctx.moveTo(0, y(value));
    ctx.lineTo(width, y(value));
    ctx.stroke();
  };
  ctx.lineWidth = 1;
  if (hasLimit) {
    line(limit, '--limit', []);
    for (const level of ['soft', 'hard', 'emergency']) line(limit * feed.config.thresholds[level], `--${level}`, [6, 4]);
  }
  ctx.setLineDash([]);
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillStyle = style.getPropertyValue('--muted');
  if (hasLimit) ctx.fillText(`limit ${bytes(limit)}`, 6, y(limit) - 4);
  else ctx.fillText(`no limit; scale ${bytes(top)}`, 6, 16);
  ctx.fillText(`last ${Math.round((HISTORY * POLL_MS) / 1000)} s`, 6, height - 6);
  const last = history[history.length - 1];
  if (last !== undefined) {
    const label = `used ${bytes(last.used)}`;
    ctx.fillText(label, width - ctx.measureText(label).width - 6, Math.min(height - 6, y(last.used) + 16));
  }
  ctx.lineWidth = 2;
  ctx.strokeStyle = style.getPropertyValue('--used');
  ctx.beginPath();
  const step = width / (HISTORY - 1);
  history.forEach((p, i) => {
    const x = width - (history.length - 1 - i) * step;
    if (i === 0) ctx.moveTo(x, y(p.used)); else ctx.lineTo(x, y(p.used));
  });
  ctx.stroke();
}

function render(feed) {
  const s = feed.stats;
  history.push({ at: feed.atMs, used: s.usedBytes });
  if (history.length > HISTORY) history.shift();

  text('path', feed.path);
  const health = $('health');
  health.textContent = feed.health.status;
  health.className = `badge ${feed.health.status}`;
  $('reasons').replaceChildren(...feed.health.reasons.map((r) => Object.assign(document.createElement('li'), { textContent: r })));

  text('used', bytes(s.usedBytes));
  $('used').dataset.bytes = String(s.usedBytes);
  text('used-fraction', s.limitBytes < NO_LIMIT ? `${percent(s.usedBytes / s.limitBytes)} of limit` : '');
  text('limit', bytes(s.limitBytes));
  text('level', s.level);
  text('peak', bytes(s.peakBytes));
  text('resident', bytes(s.residentBytes));
  text('hitrate', s.hits + s.misses === 0 ? '–' : percent(s.hitRate));
  text('hits', s.hits);
  text('misses', s.misses);
  text('loads', s.loads);
  text('load-p50', ms(s.loadMsP50));
  text('load-p99', ms(s.loadMsP99));
  const evictions = Object.entries(s.evictions);
  text('evictions-total', evictions.reduce((sum, [, n]) => sum + n, 0));
  text('rejections', s.rejections);

  const share = s.limitBytes < NO_LIMIT ? s.limitBytes : Math.max(1, s.usedBytes);
  fill($('collections').tBodies[0], s.collections.map((c) => [
    c.failure === null ? c.name : `${c.name} (failed)`, c.count, `${c.residentShards} / ${c.shards}`, bytes(c.bytes), bar(c.bytes / share), c.priority,
  ]));
  fill($('evictions').tBodies[0], evictions.map(([reason, n]) => [reason, n]));
  fill($('recent').tBodies[0], s.recentEvictions.slice(-15).reverse().map((e) => [
    new Date(e.atMs).toLocaleTimeString(), e.collection, e.shard, bytes(e.bytes), e.reason,
  ]));
  draw(feed);

  polls++;
  document.body.dataset.polls = String(polls);
  text('updated', new Date(feed.atMs).toLocaleTimeString());
  $('error').hidden = true;
}

async function poll() {
  try {
    const res = await fetch('/v1/stats', { cache: 'no-store' });
    if (!res.ok) throw new Error(`GET /v1/stats: ${res.status}`);
    render(await res.json());
  } catch (err) {
    // The server restarting or going away is shown on the page, not thrown: the page keeps trying.
    $('error').hidden = false;
    text('error', `cannot reach the server (${err.message}); retrying`);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();

/**
 * Summarises a .cpuprofile: self time by function and by file, and inclusive time by function,
 * optionally only for samples in [fromMs, toMs] after the profile's start.
 *   node bench/diag/summarize-cpuprofile.mjs <file.cpuprofile> [fromMs toMs] [top]
 */
import { readFileSync } from 'node:fs';

const [file, fromArg, toArg, topArg = '40'] = process.argv.slice(2);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((nd) => [nd.id, nd]));
const parent = new Map();
for (const nd of prof.nodes) for (const c of nd.children ?? []) parent.set(c, nd.id);
// Sample times: startTime + cumulative deltas (µs, on the same clock as performance.now()*1000 + origin offset).
let tUs = prof.startTime;
const times = prof.timeDeltas.map((d) => (tUs += d));
const self = new Map();
const selfFile = new Map();
const inclusive = new Map();
let total = 0;
const name = (nd) => `${nd.callFrame.functionName || '(anonymous)'} ${nd.callFrame.url.split('/').slice(-2).join('/')}:${nd.callFrame.lineNumber + 1}`;
const from = fromArg === undefined || fromArg === "" ? -Infinity : Number(fromArg);
const to = toArg === undefined || toArg === "" ? Infinity : Number(toArg);
const t0 = prof.startTime;
for (let i = 0; i < prof.samples.length; i++) {
  const dt = i + 1 < times.length ? times[i + 1] - times[i] : 0;
  const ms = (times[i] - t0) / 1000;
  if (ms < from || ms > to) continue;
  const nd = byId.get(prof.samples[i]);
  total += dt;
  self.set(name(nd), (self.get(name(nd)) ?? 0) + dt);
  const f = nd.callFrame.url ? nd.callFrame.url.replace(/^.*\/(node_modules\/[^/]+|dist|bench)\//, '$1/') : nd.callFrame.functionName;
  selfFile.set(f, (selfFile.get(f) ?? 0) + dt);
  const seen = new Set();
  for (let id = nd.id; id !== undefined; id = parent.get(id)) {
    const key = name(byId.get(id));
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
  }
}
const top = Number(topArg);
const show = (title, map) => {
  console.log(`\n${title} (of ${(total / 1000).toFixed(0)} ms sampled)`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(v / 1000).toFixed(1).padStart(9)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
};
show('self time by function', self);
show('self time by file', selfFile);
show('inclusive time by function', inclusive);

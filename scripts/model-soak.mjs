#!/usr/bin/env node
// Runs the model-based concurrent test (test/support/model-run.mjs) for many seeds, each in its
// own process with its own deadline, and prints one line per seed. Exits 1 on any violation.
//   node scripts/model-soak.mjs [--seeds 20] [--ops 3000] [--clients 6] [--first 1] [--bound-ms 20000] [--without unload,flush]
// Build first (npm run build:ts): the runner uses dist/.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUNNER = fileURLToPath(new URL('../test/support/model-run.mjs', import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const seeds = arg('seeds', 20);
const ops = arg('ops', 3000);
const clients = arg('clients', 6);
const first = arg('first', 1);
const boundMs = arg('bound-ms', 20_000);
// Generous: a run that is merely slow finishes; only a wedged process is killed.
const withoutIndex = process.argv.indexOf('--without');
const without = withoutIndex < 0 ? [] : ['--without', process.argv[withoutIndex + 1]];
const deadlineMs = boundMs * 3 + ops * 50;

function runSeed(seed) {
  return new Promise((resolve) => {
    const args = [RUNNER, '--seed', String(seed), '--ops', String(ops), '--clients', String(clients), '--bound-ms', String(boundMs), ...without];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('result '));
      if (line === undefined) {
        resolve({ violations: [{ kind: 'runner died', label: `exit ${code ?? signal}`, stderr: stderr.slice(-500) }], summary: {} });
      } else resolve(JSON.parse(line.slice(7)));
    });
  });
}

let failed = 0;
for (let seed = first; seed < first + seeds; seed++) {
  const started = Date.now();
  const { violations, summary } = await runSeed(seed);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (violations.length === 0) {
    console.log(`seed ${seed}: ok in ${secs} s (${ops} ops, ${clients} clients, peak ${summary.peakRatio} of the limit, ${JSON.stringify(summary.outcomes)})`);
  } else {
    failed++;
    const kinds = {};
    for (const v of violations) kinds[v.kind] = (kinds[v.kind] ?? 0) + 1;
    console.log(`seed ${seed}: ${violations.length} violations in ${secs} s ${JSON.stringify(kinds)}; first: ${JSON.stringify(violations[0]).slice(0, 400)}`);
  }
}
console.log(`${seeds - failed} of ${seeds} seeds passed`);
process.exit(failed === 0 ? 0 : 1);

#!/usr/bin/env node
// Runs the vitest suite and prints the plain closing line CI reads: "N passed, N failed".
// Exits non-zero on any failure, on zero tests, or when vitest itself fails (e.g. an
// unhandled rejection). Extra arguments go to vitest (a file filter, --reporter, ...).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const label = process.env['SHOAL_TEST_LABEL'] ?? 'vitest';
const out = `${root}.vitest-results.json`;
rmSync(out, { force: true });

// Pool workers run compiled JavaScript (dist/), so build it first: tests never see a stale dist.
const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.log(`${label}: 0 passed, 1 failed`);
  process.exit(1);
}

const vitest = spawnSync(
  process.execPath,
  [`${root}node_modules/vitest/vitest.mjs`, 'run', '--reporter=default', '--reporter=json', `--outputFile=${out}`, ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NO_COLOR: '1' } },
);

let passed = 0;
let failed = 0;
try {
  const report = JSON.parse(readFileSync(out, 'utf8'));
  passed = report.numPassedTests;
  failed = report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
} catch {
  failed = 1; // no report: vitest did not finish
}
if (vitest.status !== 0 && failed === 0) failed = 1; // e.g. unhandled errors outside tests
console.log(`${label}: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);

/** Machine facts, a fingerprint of the compiled JS, and waiting for a quiet VM (the tenants scenario). */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpuMeter } from '../cpu.mjs';
import { gitCommit } from '../git.mjs';
import { hostFacts } from '../host.mjs';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `dist` is the compiled JS measured; outside this checkout, its ../COMMIT file (if any) names the commit. */
export function machineFacts(dist = `${ROOT}dist/`) {
  const root = new URL('..', pathToFileURL(dist.endsWith('/') ? dist : `${dist}/`));
  const own = fileURLToPath(root) === ROOT;
  const commitFile = fileURLToPath(new URL('COMMIT', root));
  return {
    ...hostFacts(),
    commit: own ? gitCommit() : existsSync(commitFile) ? `${readFileSync(commitFile, 'utf8').trim().slice(0, 7)} (clean build in ${fileURLToPath(root)})` : `unknown (${fileURLToPath(root)})`,
    checkoutCommit: gitCommit(),
    dist,
    addonBuilt: addonBuilt(fileURLToPath(root)),
  };
}

function addonBuilt(root) {
  try {
    const path = process.env.SHOAL_NATIVE_BINARY ?? createRequire(import.meta.url)('node-gyp-build').path(root);
    return existsSync(path) ? statSync(path).mtime.toISOString() : null;
  } catch {
    return null;
  }
}

/** Fingerprint of every dist/**.js file: the lead may rebuild dist/ during a run, so each child pins what it ran. */
export function distDigest(dist = `${ROOT}dist/`) {
  const root = dist.endsWith('/') ? dist : `${dist}/`;
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of readdirSync(root + dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.isDirectory()) walk(`${dir}${entry.name}/`);
      else if (entry.name.endsWith('.js')) hash.update(`${dir}${entry.name}\0`).update(readFileSync(root + dir + entry.name));
    }
  };
  walk('');
  return hash.digest('hex').slice(0, 12);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls until other processes use < 0.1 core over a 3 s window, or `maxSeconds` pass. */
export async function waitQuiet(maxSeconds) {
  const t0 = Date.now();
  if (maxSeconds <= 0) return { waitedSeconds: 0, otherCores: null, skipped: true };
  for (;;) {
    const meter = cpuMeter();
    await sleep(3000);
    const m = meter();
    const waitedSeconds = (Date.now() - t0) / 1000;
    if (!m || m.otherCores < 0.1) return { waitedSeconds: Math.max(0, waitedSeconds - 3), otherCores: m?.otherCores ?? null };
    if (waitedSeconds > maxSeconds) return { waitedSeconds, otherCores: m.otherCores, gaveUp: true };
  }
}

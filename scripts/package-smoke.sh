#!/usr/bin/env bash
# Tests the shipped product: builds the linux-x64 prebuild, packs the tarball, installs it into
# a fresh consumer project with --ignore-scripts (no compiler involved), and checks that the
# consumer can create a segment, add and search, and that without any binary the loader says
# what is missing and how to build it. Prints "package: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
passed=0
failed=0
check() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "package: FAILED: $*"; fi; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

npm run prebuilds --silent -- --only=linux-x64-glibc >"$work/prebuild.log" 2>&1 || { cat "$work/prebuild.log"; exit 1; }
ls prebuilds/linux-x64/*.node >/dev/null
tarball="$(npm pack --silent --pack-destination "$work" 2>/dev/null | tail -n 1)"
echo "package: packed $tarball ($(du -k "$work/$tarball" | cut -f1) KiB)"

mkdir -p "$work/consumer"
(
  cd "$work/consumer"
  npm init -y >/dev/null
  npm install --ignore-scripts --no-audit --no-fund "$work/$tarball" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
)
[ ! -d "$work/consumer/node_modules/shoal/build" ] # no build ran: the prebuild must serve

cat >"$work/consumer/use.mjs" <<'JS'
import { Segment, native } from 'shoal';
const seg = await Segment.create({ dim: 3, space: 'cosine', capacity: 10 });
await seg.add([1, 2, 3], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
const out = await seg.search([[0.1, 0.9, 0]], { k: 2 });
if (out.labels[0] !== 2) throw new Error(`expected label 2 first, got ${out.labels[0]}`);
if (seg.bytes <= 0) throw new Error('no bytes reported');
await seg.free();
if (native.totalBytes() !== 0) throw new Error('bytes left after free');
console.log('consumer ok', native.buildInfo().kernel);
JS
check node "$work/consumer/use.mjs"

cat >"$work/consumer/types.ts" <<'TS'
import { Segment, type SearchOutput } from 'shoal';
const seg: Segment = await Segment.create({ dim: 2 });
const out: SearchOutput = await seg.search([[0, 0]], { k: 1 });
export const first: number | undefined = out.labels[0];
TS
check test -f "$work/consumer/node_modules/shoal/dist/index.d.ts"

# The shoal command, as `npx shoal` runs it from the consumer's bin link.
cat >"$work/consumer/data.mjs" <<'JS'
import { Shoal } from 'shoal';
const db = await Shoal.open({ path: process.argv[2], threads: 1 });
const col = await db.createCollection('docs', { dim: 2 });
await col.add(['a', 'b'], [[1, 0], [0, 1]]);
await db.close();
JS
check node "$work/consumer/data.mjs" "$work/consumer/data"
check bash -c "cd '$work/consumer' && npx --no-install shoal --help | grep -q 'shoal COMMAND'"
check bash -c "cd '$work/consumer' && npx --no-install shoal stats data | grep -q '\"count\": 2'"
check bash -c "cd '$work/consumer' && npx --no-install shoal verify data | grep -q healthy"
# The `shoal` command: installed as a bin; `serve` answers /health from the installed package
# (fastify comes as a dependency; prom-client, an optional peer, is absent here).
check bash -c "cd '$work/consumer' && npx --no-install shoal --help | grep -q 'serve'"
check test -f "$work/consumer/node_modules/shoal/src/server/public/index.html"
serve_check() {
  local log="$work/serve.log"
  (cd "$work/consumer" && exec ./node_modules/.bin/shoal serve "$work/data" --port 0) >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do grep -q 'serving .* on http' "$log" && break; sleep 0.1; done
  local url
  url="$(grep -o 'http://127.0.0.1:[0-9]*' "$log" | head -n 1)"
  local health
  health="$(curl -s "$url/health")"
  kill -TERM "$pid"
  wait "$pid" || true
  [ "$health" = '{"status":"ok","reasons":[]}' ]
}
check serve_check

rm -rf "$work/consumer/node_modules/shoal/prebuilds"
if node "$work/consumer/use.mjs" >"$work/missing.log" 2>&1; then
  check false
else
  check grep -q "npm rebuild shoal" "$work/missing.log"
fi

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

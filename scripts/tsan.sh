#!/usr/bin/env bash
# Builds the addon with ThreadSanitizer into build-tsan/ and runs the threaded native test
# (test/native/threads.test.ts) against it. Node itself is not instrumented, so TSan's
# runtime (gcc's libtsan) is preloaded, and only races in which both accesses are in the
# addon's instrumented code (shoal's and the hnswlib headers it compiles) can be seen.
#
# Every report is logged and then judged: the run fails on any report whose stack names no
# hnswlib frame. Races inside hnswlib's own code (hnswalg.h, visited_list_pool.h) are
# listed but not failed on -- shoal does not vendor or patch hnswlib. Extra arguments go to
# vitest. TSan slows the test several times over, hence the long per-test timeouts.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir="${npm_config_nodedir:-/usr}"

runtime="$(g++ -print-file-name=libtsan.so)"
[ -f "$runtime" ] || { echo "tsan: libtsan.so not found (install g++ with sanitizer runtimes)"; exit 1; }

. scripts/sanitized-build.sh
sanitized_build build-tsan "-fsanitize=thread -fno-omit-frame-pointer -g -O1" "-fsanitize=thread"

logs="$PWD/build-tsan/reports"
mkdir -p "$logs"
status=0
# TSan's shadow memory needs the fixed address layout; high-entropy ASLR (recent kernels) breaks
# gcc 12's runtime, so run without address randomisation where setarch allows it.
norandom=()
if setarch "$(uname -m)" -R true 2>/dev/null; then norandom=(setarch "$(uname -m)" -R); fi
SHOAL_NATIVE_BINARY="$PWD/build-tsan/shoal.node" \
LD_PRELOAD="$runtime" \
TSAN_OPTIONS="halt_on_error=0:exitcode=0:ignore_noninstrumented_modules=1:report_signal_unsafe=0:history_size=4:log_path=$logs/tsan" \
SHOAL_TEST_LABEL="tsan tests" \
  "${norandom[@]}" node scripts/run-tests.mjs test/native/threads.test.ts \
    --testTimeout=600000 --hookTimeout=600000 "$@" || status=$?

reports=0
foreign=0
for log in "$logs"/tsan.*; do
  [ -e "$log" ] || continue
  # One report per "WARNING: ThreadSanitizer" block, up to its closing "=====" line.
  while IFS= read -r -d $'\x1e' report; do
    [ -n "$report" ] || continue
    reports=$((reports + 1))
    first="$(printf '%s\n' "$report" | grep -m1 "WARNING: ThreadSanitizer" || true)"
    if printf '%s\n' "$report" | grep -qE "hnswalg\.h|visited_list_pool\.h|hnswlib"; then
      echo "tsan: hnswlib: $first $(printf '%s\n' "$report" | grep -m1 -oE '(hnswalg|visited_list_pool)\.h:[0-9]+' || true)"
    else
      foreign=$((foreign + 1))
      echo "tsan: unexpected report: $first"
      printf '%s\n' "$report" | head -40
    fi
  done < <(awk '/WARNING: ThreadSanitizer/{inr=1} inr{print} /^==================$/ && inr{inr=0; printf "\x1e"}' "$log")
done
echo "tsan: $reports report(s), $foreign outside hnswlib's own code"
[ "$foreign" -eq 0 ] || status=1
exit "$status"

#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and
# runs the native test suite (test/native) against it. Node itself is not instrumented, so
# ASan's runtime is preloaded and leak checking (which would report Node's own exit-time
# allocations) is off.
#
# Every ASan report is logged and then judged: the run fails on any report except one known
# upstream defect, hnswlib 0.8.0's prefetch in searchBaseLayer (hnswalg.h, the
# `*(datal + j + 1)` reads), which reads up to 4 bytes past a full upper-layer neighbour list
# while building. It cannot be fixed here without patching hnswlib, which shoal does not
# vendor. Any UBSan report aborts at once.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir="${npm_config_nodedir:-/usr}"

runtime="$(g++ -print-file-name=libasan.so)"
ubsan="$(g++ -print-file-name=libubsan.so)"
[ -f "$runtime" ] || { echo "asan: libasan.so not found (install g++ with sanitizer runtimes)"; exit 1; }

. scripts/sanitized-build.sh
sanitized_build build-asan "-fsanitize=address,undefined -fsanitize-recover=address -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1" "-fsanitize=address,undefined"

export SHOAL_NATIVE_BINARY="$PWD/build-asan/shoal.node"
export LD_PRELOAD="$runtime $ubsan"
logs="$PWD/build-asan/reports"
mkdir -p "$logs"
# alloc_dealloc_mismatch=0: the addon replaces operator new/delete with counted ones built on
# malloc/free (native/accounting.cc), and a string that libstdc++'s out-of-line code allocated
# with its own operator new may be released by the addon's inline code through free. Every
# allocator shoal builds for implements operator new with malloc, so the pair is sound; ASan,
# which records which function allocated a block, would call it a mismatch.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=0:detect_odr_violation=0:alloc_dealloc_mismatch=0:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
SHOAL_TEST_LABEL="asan tests" node scripts/run-tests.mjs test/native "$@" || status=$?
unset LD_PRELOAD

# Judge the reports: the first frame of each must be the known hnswlib prefetch.
reports=0
unknown=0
for log in "$logs"/asan.*; do
  [ -e "$log" ] || continue
  while IFS= read -r frame; do
    reports=$((reports + 1))
    case "$frame" in
      *"HierarchicalNSW<float>::searchBaseLayer("*"hnswalg.h:2"[67]*) ;;
      *) unknown=$((unknown + 1)); echo "asan: unexpected report: $frame" ;;
    esac
  done < <(grep -A1 "ERROR: AddressSanitizer" "$log" | grep "#0 ")
  grep -q "ERROR: AddressSanitizer" "$log" || { unknown=$((unknown + 1)); cat "$log"; }
done
echo "asan: $reports report(s), all but $unknown from the known hnswlib prefetch over-read"
[ "$unknown" -eq 0 ] || { grep -h -A25 "ERROR: AddressSanitizer" "$logs"/asan.* | head -80; status=1; }
exit "$status"

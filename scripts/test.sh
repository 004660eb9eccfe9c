#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: once on a normal build, once on an
# AddressSanitizer + UBSan build; then replays the fuzzers' kept crashes and fuzzes each parser of
# untrusted input for a while (scripts/fuzz.sh). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

# The integration files run side by side: their tests mostly wait on processes (each test picks its
# own ports and folders), so one more job than cores keeps the machine busy without starving it.
jobs=$(( $(nproc) + 1 ))

echo "== build (build/)"
scripts/build.sh build
echo "== tests (build/)"
(cd build && ctest --output-on-failure --timeout 900 -j"$jobs")

echo "== build with AddressSanitizer + UBSan (build-asan/)"
scripts/build.sh build-asan -DPITBOSS_SANITIZE=ON
echo "== tests under the sanitizers (build-asan/)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure --timeout 900 -j"$jobs")
echo "== fuzz the parsers of untrusted input (libFuzzer; kept crashes replayed first)"
scripts/fuzz.sh
echo "== all tests passed (normal and sanitizer builds, fuzzers)"

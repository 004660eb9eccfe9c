#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan) into build-fuzz/, replays every kept crash
# (tests/fuzz/regressions/NAME/) and seed (tests/fuzz/corpus/NAME/), then fuzzes each harness for a
# while, two at a time. Exits non-zero on any crash, leak or sanitizer report.
#   scripts/fuzz.sh            -> PITBOSS_FUZZ_SECONDS (default 30) per harness
#   scripts/fuzz.sh 600 qasm   -> one harness, longer
# A crash leaves its input in build-fuzz/crashes/NAME/: keep it in tests/fuzz/regressions/NAME/
# once it is fixed, so that every later run replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-${PITBOSS_FUZZ_SECONDS:-30}}"
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(qasm json_args config proto)

echo "== build the fuzzers (build-fuzz/, clang)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DPITBOSS_FUZZ=ON -DPITBOSS_WERROR=ON \
  -DPITBOSS_PYTHON=/usr/bin/python3 >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzzers >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
dict_for() { [ -f "tests/fuzz/$1.dict" ] && echo "-dict=tests/fuzz/$1.dict" || true; }

fuzz_one() {
  local name="$1" bin="build-fuzz/bin/fuzz_$1" log="build-fuzz/fuzz_$1.log"
  local work="build-fuzz/corpus/$1" crashes="build-fuzz/crashes/$1"
  mkdir -p "$work" "$crashes"
  # Replay first: a kept crash that comes back fails the run at once, with its file named.
  local kept=()
  for d in "tests/fuzz/regressions/$name" "tests/fuzz/corpus/$name"; do
    [ -d "$d" ] && while IFS= read -r f; do kept+=("$f"); done < <(find "$d" -type f | sort)
  done
  if [ ${#kept[@]} -gt 0 ] && ! "$bin" -rss_limit_mb=2048 -timeout=20 "${kept[@]}" >"$log.replay" 2>&1; then
    echo "fuzz_$name: a kept input fails again (see $log.replay):"
    grep -E "Running:|ERROR|runtime error" "$log.replay" | tail -5
    return 1
  fi
  # Then fuzz: the work corpus grows across runs on one machine; the seeds start it.
  if ! "$bin" $(dict_for "$name") -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
    echo "fuzz_$name: FAILED; the input is in $crashes/ (log: $log):"
    grep -E "ERROR|runtime error|SUMMARY|Test unit written" "$log" | head -8
    return 1
  fi
  echo "fuzz_$name: ok, $(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$') runs in ${seconds} s," \
       "${#kept[@]} kept inputs replayed, coverage $(grep -oE 'cov: [0-9]+' "$log" | tail -1)"
}

echo "== fuzz ${names[*]} (${seconds} s each, two at a time)"
failed=0
pids=()
for name in "${names[@]}"; do
  fuzz_one "$name" &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ $failed -eq 0 ] && echo "== fuzzing passed" || { echo "== fuzzing FAILED"; exit 1; }

#!/usr/bin/env bash
# Long fuzz runs, for the figures in tests/hardening/README.md: each target
# for SECONDS (default 300), JOBS at a time (default 1), with a corpus that
# grows across runs in BUILD/fuzz-long/<target> (seeded from the tree).
# Prints one row per target: executions, executions per second, coverage
# (cov: edges, ft: features, as libFuzzer counts them), corpus size, the
# inputs kept for a crash, leak, timeout or OOM (libFuzzer stops at the
# first; they are in BUILD/fuzz-long/artifacts), and the result.
#
#   tests/fuzz/run-long.sh [SECONDS] [BUILD_DIR] [TARGET...]
#   JOBS=2 tests/fuzz/run-long.sh 300 build router json
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-300}
build=$(realpath "${2:-build}")
shift $(( $# > 2 ? 2 : $# ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(router url json config schema pgsql jwt phone)
jobs=${JOBS:-1}
out=$build/fuzz-long
mkdir -p "$out/artifacts"

run_one() {
  local t=$1 bin=$build/tests/fuzz/fuzz_$t
  [ -x "$bin" ] || { echo "missing $bin (build the kirana_fuzzers target)" >"$out/$t.log"; return; }
  mkdir -p "$out/$t"
  local opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$out/artifacts/$t-")
  [ -f "tests/fuzz/$t.dict" ] && opts+=(-dict="tests/fuzz/$t.dict")
  local dirs=("$out/$t" "tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
  "$bin" "${opts[@]}" "${dirs[@]}" >"$out/$t.log" 2>&1
  echo $? >"$out/$t.rc"
}

stamp=$out/.start
touch "$stamp"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

printf '%-8s %8s %12s %10s %6s %7s %8s %8s  %s\n' target seconds execs exec/s cov ft corpus crashes result
for t in "${targets[@]}"; do
  log=$out/$t.log
  execs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: //p' "$log" | tail -1)
  # the last status line: "#N  DONE  cov: X ft: Y corp: A/B ..."
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  # inputs libFuzzer kept this run: crash-, leak-, timeout- or oom-<sha1>
  crashes=$(find "$out/artifacts" -maxdepth 1 -name "$t-*" -newer "$stamp" | wc -l)
  rc=$(cat "$out/$t.rc" 2>/dev/null || echo '?')
  result=ok
  [ "$rc" = 0 ] || result="FAILED (rc $rc, see $log)"
  printf '%-8s %8s %12s %10s %6s %7s %8s %8s  %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "$crashes" "$result"
done

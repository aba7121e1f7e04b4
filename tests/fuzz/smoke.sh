#!/usr/bin/env bash
# ctest's run of one fuzz target: replays its seed corpus and regressions
# (inputs that once crashed it), then fuzzes for FUZZ_SECONDS (8). Fails
# when libFuzzer finds a crash, a leak, a timeout or an out-of-memory; the
# input is kept as ARTIFACTS/<target>-crash-... for a regression file.
#
#   smoke.sh FUZZER TARGET ARTIFACTS
set -euo pipefail
fuzzer=$1 target=$2 artifacts=$3
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"
# New inputs go to the first folder: a scratch one, never the tree.
dirs=("$work" "$here/corpus/$target")
if [ -d "$here/regressions/$target" ]; then dirs+=("$here/regressions/$target"); fi
opts=(-seed=1 -max_total_time="${FUZZ_SECONDS:-8}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
  -artifact_prefix="$artifacts/$target-")
if [ -f "$here/$target.dict" ]; then opts+=(-dict="$here/$target.dict"); fi
"$fuzzer" "${opts[@]}" "${dirs[@]}"

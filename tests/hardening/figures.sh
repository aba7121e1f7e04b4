#!/usr/bin/env bash
# Runs the abuse tests (tests/integration/hardening/*.test.mjs) against a
# build and prints the figures they measure (RSS, CPU, counts, latencies)
# and their verdicts: the numbers behind tests/hardening/README.md.
#
#   tests/hardening/figures.sh [BUILD_DIR]      (default: build)
#
# With a sanitizer build (-DKIRANA_SANITIZE=ON) the figures are ASan's:
# CPU several times higher, RSS with an 8 MiB quarantine.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
export KIRANA_SOURCE_DIR=$PWD KIRANA_BUILD_DIR=$build KIRANA_BIN=$build/core/kirana \
  KIRANA_PLUGIN_DIR=$build/plugins KIRANA_FIXTURE_PLUGIN_DIR=$build/fixtures/plugins
if grep -q '^KIRANA_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  export KIRANA_SANITIZE=1 ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
fi
rc=0
for f in tests/integration/hardening/*.test.mjs; do
  echo "== $(basename "$f" .test.mjs)"
  node --test --test-reporter=spec "$f" 2>&1 | grep -E '^[✔✖] |^ℹ (h2spec|[0-9]|slowest|10 MiB)' || rc=1
done
exit $rc

#!/usr/bin/env bash
# Installs what is missing, builds kirana twice (release, and ASan+UBSan) and
# runs every test of both builds with ctest. Each ctest run starts its own
# private PostgreSQL and Redis (tests/servers/servers.sh) and stops them.
#
#   KIRANA_SKIP_SANITIZE=1   skip the sanitizer build (quicker local runs)
#   KIRANA_CTEST_ARGS="-R x" extra ctest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)

run_build() {
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j2 --timeout 900 ${KIRANA_CTEST_ARGS:-})
}

echo "== release build =="
run_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${KIRANA_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== ASan + UBSan build =="
  run_build build-asan -DCMAKE_BUILD_TYPE=Debug -DKIRANA_SANITIZE=ON
fi

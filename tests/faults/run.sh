#!/usr/bin/env bash
# Fault injection against a whole kirana system, one fault at a time, with
# a table of what was checked (tests/faults/README.md):
#
#   tests/faults/run.sh [BUILD_DIR] [FAULT ...]      (default build dir: build)
#
# Starts a private PostgreSQL and cart Redis (tests/servers/servers.sh) and
# a queue Redis with AOF, runs faults.mjs, and stops everything on exit.
# Exits 1 if any fault broke an invariant, 77 when not run as root (the
# disk-full fault mounts a tmpfs; PostgreSQL runs as the postgres user).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:-$src/build}")
shift || true
[ -x "$build/core/kirana" ] || { echo "run.sh: no kirana in $build (build it first)" >&2; exit 2; }
# 77: skipped (ctest's SKIP_RETURN_CODE)
[ "$(id -u)" = 0 ] || { echo "run.sh: skipped: needs root (a tmpfs mount, signals to PostgreSQL run as postgres)" >&2; exit 77; }

tmp=$(mktemp -d /tmp/kirana-faults-XXXXXX)
chmod 755 "$tmp" # PostgreSQL runs as postgres and keeps its socket here
node_pid=
cleanup() {
  set +e
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  for m in "$tmp"/log-*; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
  local q=$tmp/servers/queue-redis/redis.pid
  [ -f "$q" ] && kill "$(cat "$q")" 2>/dev/null
  "$src/tests/servers/servers.sh" stop "$tmp/servers" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
"$src/tests/servers/servers.sh" start "$tmp/servers" >/dev/null

export KIRANA_SOURCE_DIR=$src KIRANA_BUILD_DIR=$build
export KIRANA_BIN=${KIRANA_BIN:-$build/core/kirana}
export KIRANA_PLUGIN_DIR=${KIRANA_PLUGIN_DIR:-$build/plugins}
export KIRANA_FIXTURE_PLUGIN_DIR=${KIRANA_FIXTURE_PLUGIN_DIR:-$build/fixtures/plugins}
export KIRANA_TEST_SERVERS_ENV=$tmp/servers/env KIRANA_FAULTS_SERVERS_DIR=$tmp/servers
export KIRANA_TEST_DB=postgres KIRANA_FAULTS_TMP=$tmp
# in the background, so that a TERM reaches the trap (and node) at once
node "$src/tests/faults/faults.mjs" "$@" &
node_pid=$!
rc=0
wait "$node_pid" || rc=$?
node_pid=
exit "$rc"

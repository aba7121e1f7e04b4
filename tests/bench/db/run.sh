#!/usr/bin/env bash
# Raw cost of kr_db_find_one by _id against the same query through pgbench
# on the same PostgreSQL server.
#
#   tests/bench/db/run.sh [BUILD_DIR] [CALLS]
#
# BUILD_DIR (default build) must have built krc_db and kirana_sdk. Uses
# KIRANA_TEST_PG_URI when set, else starts a private server with
# tests/servers/servers.sh and stops it at the end. Prints microseconds per
# call for 1 and 2 client threads (pgbench: -c 1 and -c 2, prepared mode)
# and kr_db's cost as a multiple of pgbench's. "cpu" is the client
# process's CPU per call (kr_db: JSON, SQL, libpq; the server's CPU is not
# counted). Each figure is the best of 3 runs, as the machines are noisy.
# Not a test: the numbers depend on the machine.
set -euo pipefail

src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$src/build}
calls=${2:-20000}
docs=1000
work=$(mktemp -d /tmp/kirana-bench-db.XXXXXX)
chmod 755 "$work"
started=
cleanup() {
  [ -n "$started" ] && "$src/tests/servers/servers.sh" stop "$work/servers" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

uri=${KIRANA_TEST_PG_URI:-}
if [ -z "$uri" ]; then
  "$src/tests/servers/servers.sh" start "$work/servers" >/dev/null
  started=1
  uri=$(grep '^KIRANA_TEST_PG_URI=' "$work/servers/env" | cut -d= -f2-)
fi

if ! out=$(cmake --build "$build" --target krc_db kirana_sdk 2>&1); then
  echo "$out" >&2
  exit 1
fi
cc -O2 -std=gnu17 -Wall -Wextra -Werror -I"$src" -I"$src/sdk/include" "$src/tests/bench/db/bench.c" \
  "$build/core/libkrc_db.a" "$build/core/libkrc_util.a" "$build/sdk/libkirana_sdk.a" \
  $(pkg-config --cflags --libs libpq jansson) -lpthread -o "$work/bench"

"$work/bench" "$uri" load $docs
cat >"$work/find.sql" <<SQL
\set id random(0, $((docs - 1)))
SELECT doc FROM bench WHERE id = :id;
SQL

best() { sort -g | head -1; }

printf '%-8s %14s %16s %8s %14s\n' threads "kr_db us/call" "pgbench us/call" ratio "kr_db cpu us"
for threads in 1 2; do
  kr=$(for _ in 1 2 3; do "$work/bench" "$uri" run $docs "$calls" $threads; done | awk '{ print $4, $6 }' | sort -g | head -1)
  kr_us=${kr% *}
  kr_cpu=${kr#* }
  pg_us=$(for _ in 1 2 3; do
    pgbench -n -M prepared -f "$work/find.sql" -c $threads -j $threads -t $((calls / threads)) "$uri" 2>/dev/null |
      sed -n 's/^tps = \([0-9.]*\).*/\1/p' | awk '{ printf "%.2f\n", 1e6 / $1 }'
  done | best)
  ratio=$(awk -v a="$kr_us" -v b="$pg_us" 'BEGIN { printf "%.2f", a / b }')
  printf '%-8s %14s %16s %8s %14s\n' $threads "$kr_us" "$pg_us" "${ratio}x" "$kr_cpu"
done

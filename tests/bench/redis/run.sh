#!/usr/bin/env bash
# The Redis part of the data-handle benchmark: HGETALL of a 10-field hash
# through the kr_redis pool (bench_hgetall.c) against redis-benchmark doing
# the same command on the same server, with 1 and 2 client threads
# (redis-benchmark: 1 and 2 connections). Prints µs per call (wall time over
# all calls) and the ratio pool / redis-benchmark. Not a test.
#
#   run.sh [OPS_PER_THREAD]   default 100000
#
# Starts its own redis-server on a free loopback port, so the shared test
# servers are untouched, and stops it on exit.
set -euo pipefail

ops=${1:-100000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d /tmp/kirana-bench-redis-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Built as the project builds it in release (-O2, NDEBUG), from the component
# sources, so it does not depend on the rest of the tree building.
cc -std=gnu17 -O2 -DNDEBUG -Wall -Wextra -Werror -I"$root" -I"$root/sdk/include" \
  "$here/bench_hgetall.c" "$root"/core/redis/*.c "$root"/core/util/*.c \
  $(pkg-config --cflags --libs hiredis) -lpthread -o "$work/bench_hgetall"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --logfile "$work/redis.log" --daemonize no &
pid=$!
for _ in $(seq 1 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done

key=krbench:hash
url="redis://127.0.0.1:$port/0"
version=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
echo "HGETALL of a 10-field hash, $ops calls per thread; redis-server $version on 127.0.0.1:$port; $(nproc) CPUs"
printf '%-8s %16s %22s %8s\n' threads "kr_redis µs/call" "redis-benchmark µs/req" ratio
for threads in 1 2; do
  ours=$("$work/bench_hgetall" "$url" "$threads" "$ops" "$key")
  ours_us=$(sed -n 's/.*us_per_op=\([0-9.]*\).*/\1/p' <<<"$ours")
  rps=$(redis-benchmark -h 127.0.0.1 -p "$port" -c "$threads" -n $((ops * threads)) --csv HGETALL "$key" |
    awk -F'"' 'NR == 2 { print $4 }')
  theirs_us=$(awk -v r="$rps" 'BEGIN { printf "%.2f", 1e6 / r }')
  ratio=$(awk -v a="$ours_us" -v b="$theirs_us" 'BEGIN { printf "%.2f", a / b }')
  printf '%-8s %16s %22s %8s\n' "$threads" "$ours_us" "$theirs_us" "$ratio"
done

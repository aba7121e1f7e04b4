#!/usr/bin/env bash
# HTTP benchmark: kirana's core route (/healthz, answered on the loop) and a
# plugin route (/hello/{name}, through the worker pool) against a bare
# libh2o server built from the same library, in one run, under h2load (h2c,
# many streams). Prints req/s, p50/p99 latency and server CPU per request,
# and the ratios to the bare server.
#
#   tests/bench/http/run.sh [BUILD_DIR]     (default: build)
#   N=200000 C=16 M=32 THREADS=1 tests/bench/http/run.sh
#
# The server runs pinned to core 0 and h2load to core 1 where there are two
# cores, so the client does not steal the server's CPU.
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=$(realpath "${1:-build}")
N=${N:-200000}
C=${C:-16}
M=${M:-32}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-4}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

TMP=$tmp
# shellcheck source=../lib.sh
. tests/bench/lib.sh

bare_port=$(free_port)
"${SRV_CPU[@]}" "$build/tests/bench/bench_bare_h2o" "$bare_port" "$THREADS" &
pids+=($!)
bare_pid=$!

cat >"$tmp/kirana.yaml" <<YAML
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  threads: $THREADS
  workers: $WORKERS
  queue_depth: 100000
roles: [http]
log: { level: warn, access: false }
plugin_dir: $build/plugins
plugins:
  - { name: hello, path: hello.so, mount: /hello }
YAML
"${SRV_CPU[@]}" "$build/core/kirana" --config "$tmp/kirana.yaml" 2>"$tmp/kirana.err" &
pids+=($!)
k_pid=$!
k_port=$(listen_port "$k_pid") || { cat "$tmp/kirana.err"; exit 1; }
listen_port "$bare_pid" >/dev/null

echo "h2load: $N requests, $C connections x $M streams, server threads $THREADS, workers $WORKERS"
print_header
results=()
while read -r name rps p50 p99 cpu ok; do
  print_row "$name" "$rps" "$p50" "$p99" "$cpu" "$ok"
  results+=("$name=$rps")
done < <(
  bench_h2load bare-libh2o "$bare_pid" "http://127.0.0.1:$bare_port/"
  bench_h2load kirana-healthz "$k_pid" "http://127.0.0.1:$k_port/healthz"
  bench_h2load kirana-plugin "$k_pid" "http://127.0.0.1:$k_port/hello/world"
)
bare=${results[0]#*=}
core=${results[1]#*=}
plugin=${results[2]#*=}
awk -v b="$bare" -v c="$core" -v p="$plugin" 'BEGIN {
  printf "ratio core route / bare libh2o:   %.2f (target >= 0.8)\n", c / b
  printf "ratio plugin route / bare libh2o: %.2f (target >= 0.5)\n", p / b }'

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

srv_cpu=(taskset -c 0)
cli_cpu=(taskset -c 1)
[ "$(nproc)" -ge 2 ] || { srv_cpu=(); cli_cpu=(); }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# bench NAME PID URL → one result line
bench() {
  local name=$1 pid=$2 url=$3
  "${cli_cpu[@]}" h2load -n 2000 -c "$C" -m "$M" "$url" >/dev/null 2>&1 # warm-up
  local t0; t0=$(cpu_ticks "$pid")
  "${cli_cpu[@]}" h2load -n "$N" -c "$C" -m "$M" -t 1 --log-file="$tmp/$name.log" "$url" >"$tmp/$name.out" 2>&1
  local t1; t1=$(cpu_ticks "$pid")
  local rps; rps=$(awk '/finished in/ {print $4}' "$tmp/$name.out")
  local ok; ok=$(awk '/^requests:/ {print $8}' "$tmp/$name.out")
  # log: start-time(us) status duration(us)
  local p50 p99
  read -r p50 p99 < <(awk '{print $3}' "$tmp/$name.log" | sort -n | awk '{a[NR]=$1} END {printf "%.0f %.0f\n", a[int(NR*0.50)], a[int(NR*0.99)]}')
  local hz; hz=$(getconf CLK_TCK)
  local us_per_req; us_per_req=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$N" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')
  printf '%s %s %s %s %s %s\n' "$name" "$rps" "$p50" "$p99" "$us_per_req" "$ok"
}

bare_port=$(free_port)
"${srv_cpu[@]}" "$build/tests/bench/bench_bare_h2o" "$bare_port" "$THREADS" &
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
"${srv_cpu[@]}" "$build/core/kirana" --config "$tmp/kirana.yaml" 2>"$tmp/kirana.err" &
pids+=($!)
k_pid=$!
for _ in $(seq 1 100); do
  k_port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/kirana.err" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$k_port" ] && break
  sleep 0.05
done
# level warn hides the "listening" line: ask the kernel instead
if [ -z "${k_port:-}" ]; then
  k_port=$(ss -ltnpH | awk -v p="pid=$k_pid," '$0 ~ p {split($4,a,":"); print a[length(a)]; exit}')
fi
sleep 0.2

echo "h2load: $N requests, $C connections x $M streams, server threads $THREADS, workers $WORKERS"
printf '%-22s %12s %9s %9s %12s\n' target "req/s" "p50 us" "p99 us" "cpu us/req"
results=()
while read -r name rps p50 p99 cpu ok; do
  printf '%-22s %12.0f %9s %9s %12s\n' "$name" "$rps" "$p50" "$p99" "$cpu"
  [ "$ok" = "$N" ] || echo "  ($name: only $ok of $N succeeded)"
  results+=("$name=$rps")
done < <(
  bench bare-libh2o "$bare_pid" "http://127.0.0.1:$bare_port/"
  bench kirana-healthz "$k_pid" "http://127.0.0.1:$k_port/healthz"
  bench kirana-plugin "$k_pid" "http://127.0.0.1:$k_port/hello/world"
)
bare=${results[0]#*=}
core=${results[1]#*=}
plugin=${results[2]#*=}
awk -v b="$bare" -v c="$core" -v p="$plugin" 'BEGIN {
  printf "ratio core route / bare libh2o:   %.2f (target >= 0.8)\n", c / b
  printf "ratio plugin route / bare libh2o: %.2f (target >= 0.5)\n", p / b }'

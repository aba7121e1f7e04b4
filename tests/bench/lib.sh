# Shared by the benchmark scripts (source it). Needs: h2load, python3.
#   bench_h2load NAME PID URL   → "NAME req/s p50_us p99_us cpu_us_per_req succeeded"
# N, C, M: requests, connections, streams per connection. TMP: scratch dir.
# The client runs on core 1 and servers on core 0 where there are two.

SRV_CPU=(taskset -c 0)
CLI_CPU=(taskset -c 1)
[ "$(nproc)" -ge 2 ] || { SRV_CPU=(); CLI_CPU=(); }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# the port a process listens on (first one)
listen_port() {
  local pid=$1
  for _ in $(seq 1 200); do
    local p
    p=$(ss -ltnpH 2>/dev/null | awk -v p="pid=$pid," '$0 ~ p {n=split($4,a,":"); print a[n]; exit}')
    [ -n "$p" ] && { echo "$p"; return 0; }
    sleep 0.05
  done
  return 1
}

bench_h2load() {
  local name=$1 pid=$2 url=$3
  "${CLI_CPU[@]}" h2load -n 2000 -c "$C" -m "$M" "$url" >/dev/null 2>&1 # warm-up
  local t0 t1
  t0=$(cpu_ticks "$pid")
  "${CLI_CPU[@]}" h2load -n "$N" -c "$C" -m "$M" -t 1 --log-file="$TMP/$name.log" "$url" >"$TMP/$name.out" 2>&1
  t1=$(cpu_ticks "$pid")
  local rps ok p50 p99 hz
  rps=$(awk '/finished in/ {print $4}' "$TMP/$name.out")
  ok=$(awk '/^requests:/ {print $8}' "$TMP/$name.out")
  read -r p50 p99 < <(awk '{print $3}' "$TMP/$name.log" | sort -n |
    awk '{a[NR]=$1} END {printf "%.0f %.0f\n", a[int(NR*0.50)], a[int(NR*0.99)]}')
  hz=$(getconf CLK_TCK)
  printf '%s %s %s %s %s %s\n' "$name" "$rps" "$p50" "$p99" \
    "$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$N" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')" "$ok"
}

print_header() { printf '%-22s %12s %9s %9s %12s\n' target "req/s" "p50 us" "p99 us" "cpu us/req"; }

print_row() {
  printf '%-22s %12.0f %9s %9s %12s\n' "$1" "$2" "$3" "$4" "$5"
  [ "$6" = "$N" ] || echo "  ($1: only $6 of $N succeeded)"
}

# with_servers NAME: a scratch dir $tmp (also $TMP) with a private
# PostgreSQL and Redis started in it (their env sourced), and an EXIT trap
# that stops the kirana in $k_pid, the servers, and removes the dir.
with_servers() {
  tmp=$(mktemp -d "/tmp/kirana-bench-$1-XXXXXX")
  chmod 755 "$tmp" # the PostgreSQL server runs as postgres when we are root
  TMP=$tmp
  k_pid=
  trap 'bench_cleanup' EXIT
  tests/servers/servers.sh start "$tmp/servers" >/dev/null
  # shellcheck disable=SC1091
  . "$tmp/servers/env"
}

bench_cleanup() {
  [ -n "${k_pid:-}" ] && kill "$k_pid" 2>/dev/null && wait "$k_pid" 2>/dev/null
  tests/servers/servers.sh stop "$tmp/servers" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}

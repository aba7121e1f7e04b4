#!/usr/bin/env bash
# Auth benchmark: auth.so in a real kirana on private PostgreSQL and Redis
# servers, under h2load (h2c, many streams):
#
#   verify-otp   POST /auth/verify-otp: the OTP check in Redis, the user
#                upsert and a new refresh family in PostgreSQL, an HS256
#                access token
#   me           GET /auth/me with a bearer token: the authenticator (JWT
#                checks + the Redis deny-list) and one user read
#
# h2load sends one body for every request, and a code is single use, so the
# server runs with `dev: true` and `otp.dev_reusable_codes: true` (a knob
# init refuses outside dev): the one code read from the file provider stays
# valid, while every request still runs the whole verify path.
#
# Prints req/s, p50/p99 latency and server CPU per request, and how many
# requests answered 200 (all must). Not a test.
#
#   tests/bench/auth/run.sh [BUILD_DIR]      (default: build)
#   N=20000 C=8 M=16 THREADS=1 WORKERS=8 tests/bench/auth/run.sh build-auth
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=$(realpath "${1:-build}")
N=${N:-20000}
C=${C:-8}
M=${M:-16}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-8}
# shellcheck source=../lib.sh
. tests/bench/lib.sh
with_servers auth

phone=+919812345678
cat >"$tmp/kirana.yaml" <<YAML
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  threads: $THREADS
  workers: $WORKERS
  queue_depth: 100000
roles: [http, worker]
db: { uri: "$KIRANA_TEST_PG_URI", pool_size: $WORKERS }
redis: { url: "$KIRANA_TEST_REDIS_URL", pool_size: $WORKERS }
queue: { redis: "$KIRANA_TEST_REDIS_URL" }
log: { level: warn, access: false }
plugin_dir: $build/plugins
plugins:
  - name: auth
    path: auth.so
    mount: /auth
    config:
      dev: true
      otp: { dev_reusable_codes: true, max_attempts: 1000000000, ttl: 86400 }
      sms: { provider: file, path: $tmp/sms.jsonl }
YAML
KIRANA_JWT_SECRET=$(head -c 48 /dev/urandom | base64) \
  "${SRV_CPU[@]}" "$build/core/kirana" --config "$tmp/kirana.yaml" 2>"$tmp/kirana.err" &
k_pid=$!
port=$(listen_port "$k_pid") || { cat "$tmp/kirana.err"; exit 1; }
base=http://127.0.0.1:$port

curl -sf --http2-prior-knowledge -o /dev/null -H 'content-type: application/json' \
  -d "{\"phone\":\"$phone\"}" "$base/auth/send-otp"
for _ in $(seq 1 100); do [ -s "$tmp/sms.jsonl" ] && break; sleep 0.05; done
code=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["code"])' "$tmp/sms.jsonl")
printf '{"phone":"%s","code":"%s"}' "$phone" "$code" >"$tmp/verify.json"
token=$(curl -sf --http2-prior-knowledge -H 'content-type: application/json' -d @"$tmp/verify.json" \
  "$base/auth/verify-otp" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# bench_h2load of lib.sh with extra h2load arguments (a body, headers).
bench() {
  local name=$1 pid=$2 url=$3
  shift 3
  "${CLI_CPU[@]}" h2load -n 2000 -c "$C" -m "$M" "$@" "$url" >/dev/null 2>&1 # warm-up
  local t0 t1 rps ok p50 p99
  t0=$(cpu_ticks "$pid")
  "${CLI_CPU[@]}" h2load -n "$N" -c "$C" -m "$M" -t 1 --log-file="$TMP/$name.log" "$@" "$url" >"$TMP/$name.out" 2>&1
  t1=$(cpu_ticks "$pid")
  rps=$(awk '/finished in/ {print $4}' "$TMP/$name.out")
  ok=$(awk '$2 == 200 {n++} END {print n + 0}' "$TMP/$name.log")
  read -r p50 p99 < <(awk '{print $3}' "$TMP/$name.log" | sort -n |
    awk '{a[NR]=$1} END {printf "%.0f %.0f\n", a[int(NR*0.50)], a[int(NR*0.99)]}')
  printf '%s %s %s %s %s %s\n' "$name" "$rps" "$p50" "$p99" \
    "$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')" "$ok"
}

echo "h2load: $N requests, $C connections x $M streams, server threads $THREADS, workers $WORKERS"
print_header
while read -r name rps p50 p99 cpu ok; do
  print_row "$name" "$rps" "$p50" "$p99" "$cpu" "$ok"
done < <(
  bench verify-otp "$k_pid" "$base/auth/verify-otp" -d "$tmp/verify.json" -H 'content-type: application/json'
  bench me "$k_pid" "$base/auth/me" -H "authorization: Bearer $token"
)

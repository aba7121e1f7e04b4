#!/usr/bin/env bash
# Data benchmark (issue: SDK data handles): under h2load, a plugin route doing
# one kr_db_find_one by id (PostgreSQL) and one doing HGETALL (Redis), next to
# /healthz from the same run. Starts its own PostgreSQL and Redis.
#
#   tests/bench/data/run.sh [BUILD_DIR]      N=100000 C=16 M=32 WORKERS=16
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=$(realpath "${1:-build}")
N=${N:-100000}
C=${C:-16}
M=${M:-32}
WORKERS=${WORKERS:-16}
# shellcheck source=../lib.sh
. tests/bench/lib.sh
with_servers data
psql "$KIRANA_TEST_PG_URI" -qc 'CREATE DATABASE bench' >/dev/null

cat >"$tmp/kirana.yaml" <<YAML
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  threads: 1
  workers: $WORKERS
  queue_depth: 100000
roles: [http]
db: { uri: "postgresql://postgres@127.0.0.1:$KIRANA_TEST_PG_PORT/bench", pool_size: $WORKERS }
redis: { url: "$KIRANA_TEST_REDIS_URL", pool_size: $WORKERS }
log: { level: warn, access: false }
plugins:
  - { name: benchdata, path: $build/tests/bench/benchdata.so, mount: /b }
YAML
"${SRV_CPU[@]}" "$build/core/kirana" --config "$tmp/kirana.yaml" 2>"$tmp/kirana.err" &
k_pid=$!
port=$(listen_port "$k_pid") || { cat "$tmp/kirana.err"; exit 1; }
url=http://127.0.0.1:$port

# 1000 documents of a product's shape, and a 10-field hash
for i in $(seq 1 1000); do
  printf '{"_id":"p%d","name":"Product %d","price":%d,"stock":100,"category":"staples","active":true}\n' "$i" "$i" $((i * 10))
done | while read -r doc; do
  curl -sf --http2-prior-knowledge -X POST -H 'content-type: application/json' --data "$doc" "$url/b/doc" || exit 1
done
redis-cli -p "$KIRANA_TEST_REDIS_PORT" HSET cart:u1 p1 1 p2 2 p3 3 p4 4 p5 5 p6 6 p7 7 p8 8 p9 9 p10 10 >/dev/null

echo "h2load: $N requests, $C connections x $M streams; kirana 1 loop thread, $WORKERS workers, pools $WORKERS"
print_header
while read -r name rps p50 p99 cpu ok; do print_row "$name" "$rps" "$p50" "$p99" "$cpu" "$ok"; done < <(
  bench_h2load kirana-healthz "$k_pid" "$url/healthz"
  bench_h2load db-find_one "$k_pid" "$url/b/doc/p500"
  bench_h2load redis-hgetall "$k_pid" "$url/b/hash/cart:u1"
)

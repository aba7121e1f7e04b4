#!/usr/bin/env bash
# Order benchmark: product.so, cart.so and order.so in one real kirana with
# the roles http and worker, on private PostgreSQL and Redis servers. A
# purpose-built HTTP/2 client (bench.mjs; h2load cannot send a different
# Idempotency-Key and user per request) places N orders of 3 lines each
# (spread over PRODUCTS products; PRODUCTS=3 makes every order contend for
# the same three rows, as in a flash sale) and prints:
#
#   POST /orders        201s per second, p50/p99 latency
#   place -> confirmed  orders per second end to end (the worker confirmed
#                       and committed every line), p50/p99 per order
#
#   tests/bench/order/run.sh [BUILD_DIR]        (default: build)
#   N=5000 C=64 S=8 PRODUCTS=200 WORKERS=16 CONSUMERS=8 tests/bench/order/run.sh build-order
#
# Not a test. kirana runs pinned to core 0 and the client to core 1 where
# there are two cores; PostgreSQL and Redis are not pinned.
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=$(realpath "${1:-build}")
N=${N:-3000}
C=${C:-32}
S=${S:-4}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-16}
CONSUMERS=${CONSUMERS:-8}
PRODUCTS=${PRODUCTS:-200}
# shellcheck source=../lib.sh
. tests/bench/lib.sh
with_servers order

channel=bench:order-events
cat >"$tmp/kirana.yaml" <<YAML
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  threads: $THREADS
  workers: $WORKERS
  queue_depth: 100000
roles: [http, worker]
db: { uri: "$KIRANA_TEST_PG_URI", pool_size: $((WORKERS + CONSUMERS + 2)) }
redis: { url: "$KIRANA_TEST_REDIS_URL", pool_size: $((WORKERS + CONSUMERS + 2)) }
queue: { redis: "$KIRANA_TEST_REDIS_URL" }
log: { level: warn, access: false }
plugin_dir: $build/plugins
plugins:
  - { name: testkit, path: $build/fixtures/plugins/testkit.so, mount: /t, config: { authenticator: true } }
  - { name: product, path: product.so, mount: /products }
  - { name: cart, path: cart.so, mount: /cart }
  - name: order
    path: order.so
    mount: /orders
    config:
      events_channel: $channel
      order_jobs: { concurrency: $CONSUMERS }
      delivery: { concurrency: 2 }
YAML
"${SRV_CPU[@]}" "$build/core/kirana" --config "$tmp/kirana.yaml" 2>"$tmp/kirana.err" &
k_pid=$!
port=$(listen_port "$k_pid") || { cat "$tmp/kirana.err"; exit 1; }
base=http://127.0.0.1:$port

admin=(-H 'authorization: Bearer test-admin-bench' -H 'content-type: application/json')
ids=()
for i in $(seq 1 "$PRODUCTS"); do
  ids+=("$(curl -sf "${admin[@]}" -d "{\"name\":\"Bench item $i\",\"price\":$((1000 + i)),\"stock\":1000000000}" \
    "$base/products" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')")
done

echo "kirana: roles http+worker, $THREADS loop thread(s), $WORKERS handler workers, $CONSUMERS order consumers; $(nproc) cores"
echo "catalogue: $PRODUCTS products; each cart holds 3 of them"
"${CLI_CPU[@]}" node tests/bench/order/bench.mjs "$base" "$KIRANA_TEST_REDIS_PORT" "$channel" \
  "$(IFS=,; echo "${ids[*]}")" "$N" "$C" "$S"
grep -v '"level":"info"' "$tmp/kirana.err" | head -5 || true

#!/usr/bin/env bash
# Catalogue and cart benchmark: product.so and cart.so in a real kirana on
# private PostgreSQL and Redis servers, under h2load (h2c, many streams):
#
#   products-list     GET /products (a page of 20 out of 200 products)
#   product-by-id     GET /products/{id}
#   cart-get-10       GET /cart holding 10 lines (one HGETALL, one $in read)
#   cart-post         POST /cart/items on a 10-line cart (script + answer
#                     with the priced cart)
#
# Prints req/s, p50/p99 latency and server CPU per request. Not a test.
#
#   tests/bench/catalog/run.sh [BUILD_DIR]      (default: build)
#   N=20000 C=8 M=16 THREADS=1 WORKERS=8 tests/bench/catalog/run.sh build-catalog
#
# A bigger catalogue, as order.so leaves it under load, and one target:
#   PRODUCTS=20000 COMMITS=50 ONLY=products-list N=5000 tests/bench/catalog/run.sh
# PRODUCTS > 200 adds the rest straight into the table with psql (same
# document shape as product.so's, then ANALYZE); COMMITS gives every product
# that many {order, qty} entries in `commits`, as open orders do. ONLY is a
# regex of the target names to run; WARMUP (default 2000) the requests sent
# before each measured run.
#
# The server runs pinned to core 0 and h2load to core 1 where there are two
# cores (tests/bench/lib.sh); PostgreSQL and Redis are not pinned.
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=$(realpath "${1:-build}")
N=${N:-20000}
C=${C:-8}
M=${M:-16}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-8}
PRODUCTS=${PRODUCTS:-200}
COMMITS=${COMMITS:-0}
ONLY=${ONLY:-}
WARMUP=${WARMUP:-2000}
# shellcheck source=../lib.sh
. tests/bench/lib.sh
with_servers catalog

cat >"$tmp/kirana.yaml" <<YAML
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  threads: $THREADS
  workers: $WORKERS
  queue_depth: 100000
roles: [http]
db: { uri: "$KIRANA_TEST_PG_URI", pool_size: $WORKERS }
redis: { url: "$KIRANA_TEST_REDIS_URL", pool_size: $WORKERS }
log: { level: warn, access: false }
plugin_dir: $build/plugins
plugins:
  - { name: testkit, path: $build/fixtures/plugins/testkit.so, mount: /t, config: { authenticator: true } }
  - { name: product, path: product.so, mount: /products }
  # room for N increments of one line
  - { name: cart, path: cart.so, mount: /cart, config: { max_qty_per_item: 1000000 } }
YAML
"${SRV_CPU[@]}" "$build/core/kirana" --config "$tmp/kirana.yaml" 2>"$tmp/kirana.err" &
k_pid=$!
port=$(listen_port "$k_pid") || { cat "$tmp/kirana.err"; exit 1; }
base=http://127.0.0.1:$port

admin=(-H 'authorization: Bearer test-admin-bench' -H 'content-type: application/json')
create() {
  curl -sf "${admin[@]}" -d "$1" "$base/products" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
ids=()
for i in $(seq -w 1 200); do
  ids+=("$(create "{\"name\":\"Product $i\",\"price\":$((1000 + 10#$i)),\"stock\":1000000000,\"unit\":\"1 pc\",\"category\":\"c$((10#$i % 10))\",\"description\":\"benchmark item $i\"}")")
done
if [ "$PRODUCTS" -gt 200 ] || [ "$COMMITS" -gt 0 ]; then
  psql -q -v ON_ERROR_STOP=1 "$KIRANA_TEST_PG_URI" <<SQL
INSERT INTO products (id, doc)
SELECT 'ffff' || lpad(to_hex(i), 20, '0'), jsonb_build_object('_id', 'ffff' || lpad(to_hex(i), 20, '0'),
  'name', 'Product ' || lpad(i::text, 6, '0'), 'price', 1000 + i % 1000, 'stock', 1000000000, 'unit', '1 pc',
  'category', 'c' || (i % 10), 'description', 'benchmark item ' || i, 'reserved', 0, 'committed', 0,
  'shipped', 0, 'holds', '[]'::jsonb, 'commits', '[]'::jsonb, 'active', true,
  'created_at', '2026-01-01T00:00:00.000Z', 'updated_at', '2026-01-01T00:00:00.000Z')
FROM generate_series(201, $PRODUCTS) i;
UPDATE products SET doc = jsonb_set(doc, '{commits}', (SELECT jsonb_agg(jsonb_build_object(
  'order', lpad(to_hex(g), 24, '0'), 'qty', 1)) FROM generate_series(1, $COMMITS) g)) WHERE $COMMITS > 0;
VACUUM ANALYZE products;
SQL
fi
fill() { # user, number of lines
  for i in $(seq 0 $(($2 - 1))); do
    curl -sf -o /dev/null -H "authorization: Bearer test-user-$1" -H 'content-type: application/json' \
      -d "{\"product_id\":\"${ids[$i]}\",\"qty\":2}" "$base/cart/items"
  done
}
fill reader 10
fill writer 9
printf '{"product_id":"%s","qty":1}' "${ids[199]}" >"$tmp/post.json"

# bench_h2load from lib.sh, with extra h2load arguments (headers, body).
bench() {
  local name=$1 url=$2
  shift 2
  "${CLI_CPU[@]}" h2load -n "$WARMUP" -c "$C" -m "$M" "$@" "$url" >/dev/null 2>&1 # warm-up
  local t0 t1
  t0=$(cpu_ticks "$k_pid")
  "${CLI_CPU[@]}" h2load -n "$N" -c "$C" -m "$M" -t 1 --log-file="$TMP/$name.log" "$@" "$url" >"$TMP/$name.out" 2>&1
  t1=$(cpu_ticks "$k_pid")
  local rps ok p50 p99 hz
  rps=$(awk '/finished in/ {print $4}' "$TMP/$name.out")
  ok=$(awk '/^status codes:/ {print $3}' "$TMP/$name.out") # 2xx
  read -r p50 p99 < <(awk '{print $3}' "$TMP/$name.log" | sort -n |
    awk '{a[NR]=$1} END {printf "%.0f %.0f\n", a[int(NR*0.50)], a[int(NR*0.99)]}')
  hz=$(getconf CLK_TCK)
  printf '%s %s %s %s %s %s\n' "$name" "$rps" "$p50" "$p99" \
    "$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$N" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')" "$ok"
}

reader=(-H 'authorization: Bearer test-user-reader')
writer=(-H 'authorization: Bearer test-user-writer' -H 'content-type: application/json' -d "$tmp/post.json")
want() { [ -z "$ONLY" ] || [[ $1 =~ $ONLY ]]; }
echo "h2load: $N requests, $C connections x $M streams, server threads $THREADS, workers $WORKERS, $(nproc) CPUs," \
  "$PRODUCTS products with $COMMITS commits each"
print_header
while read -r name rps p50 p99 cpu ok; do
  print_row "$name" "$rps" "$p50" "$p99" "$cpu" "$ok"
done < <(
  want products-list && bench products-list "$base/products"
  want product-by-id && bench product-by-id "$base/products/${ids[0]}"
  want cart-get-10 && bench cart-get-10 "$base/cart" "${reader[@]}"
  want cart-post && bench cart-post "$base/cart/items" "${writer[@]}"
)
want cart-post || exit 0
lines=$(curl -sf "${writer[@]:0:2}" "$base/cart" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(len(c["items"]), [i["qty"] for i in c["items"] if i["product_id"]=="'"${ids[199]}"'"][0])')
echo "writer's cart after the run: lines, qty of the posted line = $lines (expect 10, $((2000 + N)))"

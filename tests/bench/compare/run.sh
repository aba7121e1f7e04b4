#!/usr/bin/env bash
# kirana against the same API written as a Node team would
# (tests/bench/node-reference: Express, ioredis, BullMQ, pg, node:cluster),
# on one private PostgreSQL and one private Redis (kirana: database
# `postgres`, Redis DB 0; Node: database `noderef`, Redis DB 1), one app
# after the other, with the same clients:
#
#   GET /products, GET /products/{id}, GET /cart (10 lines),
#   POST /cart/items        h2load over HTTP/1.1 (Express has no HTTP/2),
#                           C connections, DURATION seconds each; kirana
#                           also over h2c (C x M streams), for information
#   POST /orders            client.mjs over HTTP/1.1: ORDERS users, each
#                           with a 3-line cart, one order each, C at a time
#   created -> confirmed    per order, from the order's created_at (its
#                           insert, early in POST /orders) to the worker's
#                           `confirmed` entry in its history, with the worker
#                           running beside the placements; orders/s is all
#                           of them over first created .. last confirmed
#   order jobs/s            worker stopped, JOBS orders placed, worker
#                           started: confirmations per second on the backlog
#   RSS                     sum over every process of the app (kirana: the
#                           http and the worker process; Node: the cluster
#                           primary, its workers and worker.js), idle after
#                           start and the peak while benchmarked
#
# Before benchmarking, each app is checked once (client.mjs check: answers,
# errors, an order confirmed by its worker, stock taken) and the answers'
# shapes must be the same for both; the script fails otherwise. A token
# from kirana's own OTP login is used on both apps.
#
#   tests/bench/compare/run.sh [BUILD_DIR]            (default: build)
#   QUICK=1 tests/bench/compare/run.sh build-node     (short run, for checks)
#   DURATION=15 C=32 M=8 ORDERS=2000 JOBS=2000 tests/bench/compare/run.sh build-node
#
# Both apps get both cores (kirana: its worker pool of WORKERS threads
# behind THREADS event-loop threads; Node: 2 cluster processes) and nothing
# is pinned: h2load, PostgreSQL and Redis share the same cores, the same way
# for both (THREADS=1 gives kirana a single loop thread). The script stops
# if either app's process dies. Not a test.
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=$(realpath "${1:-build}")
if [ -n "${QUICK:-}" ]; then
  : "${DURATION:=3}" "${ORDERS:=300}" "${JOBS:=300}"
fi
DURATION=${DURATION:-15}
C=${C:-32}
M=${M:-8}
ORDERS=${ORDERS:-2000}
JOBS=${JOBS:-2000}
PRODUCTS=${PRODUCTS:-200}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-16}
CONSUMERS=${CONSUMERS:-8}
ref=tests/bench/node-reference
here=tests/bench/compare
for t in h2load psql curl node; do
  command -v "$t" >/dev/null || { echo "run.sh: $t is required" >&2; exit 1; }
done
[ -x "$build/core/kirana" ] || { echo "run.sh: no $build/core/kirana (build it first)" >&2; exit 1; }
if [ ! -d "$ref/node_modules" ] || [ "$ref/package-lock.json" -nt "$ref/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$ref" --no-audit --no-fund --loglevel=error >/dev/null
fi

# shellcheck source=../lib.sh
. tests/bench/lib.sh
with_servers compare
procs=() # every process this script starts, stopped by the trap
stop_all() {
  local p
  for p in "${procs[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${procs[@]}"; do wait "$p" 2>/dev/null || true; done
  bench_cleanup
}
trap stop_all EXIT

secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
admin_phone=+919000000001
channel=bench:order-events
pg_kirana=$KIRANA_TEST_PG_URI
pg_node=${KIRANA_TEST_PG_URI%/*}/noderef
redis_kirana=redis://127.0.0.1:$KIRANA_TEST_REDIS_PORT/0
redis_node=redis://127.0.0.1:$KIRANA_TEST_REDIS_PORT/1
psql -qAt "$pg_kirana" -c 'CREATE DATABASE noderef' >/dev/null

kirana_config() { # ROLES
  cat <<YAML
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  threads: $THREADS
  workers: $WORKERS
  queue_depth: 100000
roles: [$1]
db: { uri: "$pg_kirana", pool_size: $((WORKERS + CONSUMERS + 4)) }
redis: { url: "$redis_kirana", pool_size: $((WORKERS + CONSUMERS + 4)) }
queue: { redis: "$redis_kirana" }
log: { level: warn, access: false }
plugin_dir: $build/plugins
plugins:
  - name: auth
    path: auth.so
    mount: /auth
    config:
      admins: ["$admin_phone"]
      sms: { provider: file, path: $tmp/sms.jsonl }
  - { name: product, path: product.so, mount: /products }
  - { name: cart, path: cart.so, mount: /cart, config: { max_qty_per_item: 1000000 } }
  - name: order
    path: order.so
    mount: /orders
    config:
      events_channel: $channel
      order_jobs: { concurrency: $CONSUMERS }
      delivery: { concurrency: 4 }
YAML
}
kirana_config http >"$tmp/kirana-http.yaml"
kirana_config worker >"$tmp/kirana-worker.yaml"

start_kirana_worker() {
  KIRANA_JWT_SECRET=$secret "$build/core/kirana" --config "$tmp/kirana-worker.yaml" 2>>"$tmp/kirana-worker.err" &
  kw_pid=$!
  procs+=("$kw_pid")
}
start_node_worker() {
  NODE_ENV=production DATABASE_URL=$pg_node REDIS_URL=$redis_node EVENTS_CHANNEL=$channel \
    ORDER_CONCURRENCY=$CONSUMERS node "$ref/worker.js" >>"$tmp/node-worker.log" 2>&1 &
  nw_pid=$!
  procs+=("$nw_pid")
  for _ in $(seq 1 100); do grep -q 'workers ready' "$tmp/node-worker.log" && return; sleep 0.1; done
  echo "run.sh: worker.js did not start" >&2; cat "$tmp/node-worker.log" >&2; exit 1
}
app_logs() { # the server logs, and which processes are gone
  local f p
  for f in "$tmp"/kirana-*.err "$tmp"/node-*.log; do [ -s "$f" ] && { echo "== $f" >&2; tail -20 "$f" >&2; }; done
  for p in "${procs[@]}"; do kill -0 "$p" 2>/dev/null || echo "process $p has exited" >&2; done
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }

# --- kirana, the products, a real login ---
KIRANA_JWT_SECRET=$secret "$build/core/kirana" --config "$tmp/kirana-http.yaml" 2>"$tmp/kirana-http.err" &
k_pid=$!
procs+=("$k_pid")
start_kirana_worker
port=$(listen_port "$k_pid") || { cat "$tmp/kirana-http.err"; exit 1; }
kirana=http://127.0.0.1:$port

curl -sf -o /dev/null -H 'content-type: application/json' -d "{\"phone\":\"$admin_phone\"}" "$kirana/auth/send-otp"
for _ in $(seq 1 100); do [ -s "$tmp/sms.jsonl" ] && break; sleep 0.05; done
code=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["code"])' "$tmp/sms.jsonl")
login=$(curl -sf -H 'content-type: application/json' -d "{\"phone\":\"$admin_phone\",\"code\":\"$code\"}" "$kirana/auth/verify-otp")
otp_token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["access_token"])' "$login")

node "$here/client.mjs" seed "$kirana" "$otp_token" "$PRODUCTS" >"$tmp/ids"
# The Node app reads the same documents: copy them before anything changes them.
psql -qAt "$pg_kirana" -c "\\copy (SELECT id, doc FROM products ORDER BY id) TO '$tmp/products.copy'"

client() { node "$here/client.mjs" "$@"; }
client tokens "$secret" reader- 1 >"$tmp/reader.tok"
client tokens "$secret" writer- 1 >"$tmp/writer.tok"
client tokens "$secret" ord- "$ORDERS" >"$tmp/orders.tok"
client tokens "$secret" job- "$JOBS" >"$tmp/jobs.tok"
printf '{"product_id":"%s","qty":1}' "$(tail -1 "$tmp/ids")" >"$tmp/post.json"

# --- measuring ---
rss_kb() { # PID_FILE: the sum of VmRSS over the pids it lists and their children
  local all=() p
  for p in $(cat "$1"); do all+=("$p" $(pgrep -P "$p" || true)); done
  for p in "${all[@]}"; do awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || true; done | awk '{s += $1} END {print s + 0}'
}
sample_rss() { # OUT PID_FILE: the peak, written to OUT until killed
  local out=$1 peak=0 now
  while :; do
    now=$(rss_kb "$2")
    [ "$now" -gt "$peak" ] && { peak=$now; echo "$peak" >"$out"; }
    sleep 0.2
  done
}

cpu_ticks_of() { # PID_FILE: utime + stime of the pids it lists and their children
  local p
  for p in $(cat "$1"); do
    for p in "$p" $(pgrep -P "$p" || true); do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || true; done
  done | awk '{s += $1} END {print s + 0}'
}
us_per() { # TICKS N: CPU microseconds per item
  awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", n ? t / hz * 1e6 / n : 0}'
}

# h2load over DURATION s after a short warm-up run:
# "req/s p50_us p99_us cpu_us_per_req ok total" (CPU: the app's processes)
load() { # NAME PID_FILE URL [h2load args...]
  local name=$1 pids=$2 url=$3
  shift 3
  h2load -c "$C" -t 1 -n 2000 "$@" "$url" >/dev/null 2>&1 || true
  local rps t0 t1
  t0=$(cpu_ticks_of "$pids")
  h2load -c "$C" -t 1 -D "$DURATION" --log-file="$tmp/$name.log" "$@" "$url" >"$tmp/$name.out" 2>&1 || true
  t1=$(cpu_ticks_of "$pids")
  rps=$(awk '/finished in/ {print $4}' "$tmp/$name.out")
  local p
  for p in $(cat "$pids"); do
    kill -0 "$p" 2>/dev/null || { echo "run.sh: $name: process $p has exited" >&2; app_logs; exit 1; }
  done
  [ -s "$tmp/$name.log" ] || { echo "run.sh: h2load $name failed" >&2; tail -5 "$tmp/$name.out" >&2; app_logs; exit 1; }
  sort -n -k3 "$tmp/$name.log" | awk -v rps="$rps" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
    {lat[NR] = $3; if ($2 >= 200 && $2 < 300) ok++}
    END {printf "%s %d %d %.0f %d %d\n", rps, lat[int(NR * 0.50) + 1], lat[int(NR * 0.99) + 1], t / hz * 1e6 / NR, ok, NR}'
}

# SQL over one app's orders of users PREFIX*: e2e "orders/s p50_us p99_us confirmed"
e2e_sql() { # PREFIX
  cat <<SQL
WITH o AS (
  SELECT (doc->>'created_at')::timestamptz AS c,
         (SELECT (h->>'at')::timestamptz FROM jsonb_array_elements(doc->'history') h
          WHERE h->>'status' = 'confirmed' LIMIT 1) AS f
  FROM orders WHERE doc->>'user_id' LIKE '$1%'),
d AS (SELECT extract(epoch FROM f - c) * 1e6 AS us FROM o WHERE f IS NOT NULL)
SELECT round(((SELECT count(*) FROM d) / greatest(extract(epoch FROM (SELECT max(f) - min(c) FROM o)), 0.001))::numeric, 1),
       round(percentile_disc(0.5) WITHIN GROUP (ORDER BY us)::numeric),
       round(percentile_disc(0.99) WITHIN GROUP (ORDER BY us)::numeric), count(*) FROM d
SQL
}
# confirmations per second over a backlog: (n - 1) / (last - first)
jobs_sql() { # PREFIX
  cat <<SQL
WITH f AS (SELECT (SELECT (h->>'at')::timestamptz FROM jsonb_array_elements(doc->'history') h
                   WHERE h->>'status' = 'confirmed' LIMIT 1) AS f
           FROM orders WHERE doc->>'user_id' LIKE '$1%')
SELECT round(((count(f) - 1) / greatest(extract(epoch FROM max(f) - min(f)), 0.001))::numeric, 1), count(f) FROM f
SQL
}
wait_confirmed() { # DB_URI PREFIX N
  local n
  for _ in $(seq 1 1200); do
    n=$(psql -qAt "$1" -c "SELECT count(*) FROM orders WHERE doc->>'user_id' LIKE '$2%' AND doc->>'status' = 'confirmed'")
    [ "$n" -ge "$3" ] && return 0
    sleep 0.1
  done
  echo "run.sh: only $n of $3 orders of $2* were confirmed" >&2
  exit 1
}

put() { # KEY COMMAND...: appends "KEY output" to $res; a failing command ends the script
  local key=$1 v
  shift
  v=$("$@") || exit 1
  echo "$key $v" >>"$res"
}

# Runs every scenario against one app; writes $tmp/res.APP (NAME values...).
bench_app() { # APP BASE DB_URI START_WORKER WORKER_PID_VAR HTTP_PID
  local app=$1 base=$2 db=$3 start_worker=$4 wvar=$5 main=$6
  local res=$tmp/res.$app pids=$tmp/pids.$app rps p50 p99 ok
  echo "$main ${!wvar}" >"$pids"
  echo "[$app] checking" >&2
  client check "$base" "$otp_token" "$tmp/ids" >"$tmp/shape.$app"
  client fill "$base" "$tmp/reader.tok" "$tmp/ids" 10 1
  client fill "$base" "$tmp/writer.tok" "$tmp/ids" 9 1
  client fill "$base" "$tmp/orders.tok" "$tmp/ids" 3 "$C"
  sleep 1
  echo "rss_idle $(rss_kb "$pids")" >"$res"
  sample_rss "$tmp/peak.$app" "$pids" &
  local sampler=$!
  procs+=("$sampler")
  local reader writer
  reader=(-H "authorization: Bearer $(cat "$tmp/reader.tok")")
  writer=(-H "authorization: Bearer $(cat "$tmp/writer.tok")" -H 'content-type: application/json' -d "$tmp/post.json")
  echo "[$app] h2load --h1" >&2
  put products load "$app-products" "$pids" "$base/products" --h1
  put product load "$app-product" "$pids" "$base/products/$(head -1 "$tmp/ids")" --h1
  put cart_get load "$app-cart-get" "$pids" "$base/cart" --h1 "${reader[@]}"
  put cart_post load "$app-cart-post" "$pids" "$base/cart/items" --h1 "${writer[@]}"
  if [ "$app" = kirana ]; then
    echo "[$app] h2load h2c" >&2
    put h2_products load "$app-h2-products" "$pids" "$base/products" -m "$M"
    put h2_product load "$app-h2-product" "$pids" "$base/products/$(head -1 "$tmp/ids")" -m "$M"
    put h2_cart_get load "$app-h2-cart-get" "$pids" "$base/cart" -m "$M" "${reader[@]}"
    put h2_cart_post load "$app-h2-cart-post" "$pids" "$base/cart/items" -m "$M" "${writer[@]}"
  fi
  # every successful POST /cart/items added 1 to the writer's last line
  local posted want got
  posted=$(cat "$tmp/$app"-*cart-post.log | awk '$2 == 200' | wc -l)
  got=$(curl -sf --max-time 10 "${writer[@]:0:2}" "$base/cart" | python3 -c 'import json,sys; print(sum(l["qty"] for l in json.load(sys.stdin)["items"] if l["product_id"] == sys.argv[1]))' "$(tail -1 "$tmp/ids")")
  # warm-up requests are not logged: the line holds at least what was logged
  [ "$got" -ge "$posted" ] || { echo "run.sh: [$app] the writer's line holds $got, $posted POSTs succeeded" >&2; exit 1; }

  echo "[$app] POST /orders x $ORDERS, worker running" >&2
  local t0 t1 t2
  t0=$(cpu_ticks_of "$pids")
  local placed
  placed=$(client orders "$base" "$tmp/orders.tok" "$C")
  t1=$(cpu_ticks_of "$pids")
  wait_confirmed "$db" ord- "$ORDERS"
  t2=$(cpu_ticks_of "$pids")
  # POST /orders: CPU of both processes while placing; end to end: until the last confirmation
  read -r rps p50 p99 ok <<<"$placed"
  echo "orders $rps $p50 $p99 $(us_per $((t1 - t0)) "$ORDERS") $ok $ORDERS" >>"$res"
  read -r rps p50 p99 ok < <(psql -qAt -F ' ' "$db" -c "$(e2e_sql ord-)")
  echo "e2e $rps $p50 $p99 $(us_per $((t2 - t0)) "$ORDERS") $ok $ORDERS" >>"$res"

  echo "[$app] order jobs: $JOBS orders placed with the worker stopped" >&2
  stop "${!wvar}"
  client fill "$base" "$tmp/jobs.tok" "$tmp/ids" 3 "$C"
  client orders "$base" "$tmp/jobs.tok" "$C" >/dev/null
  $start_worker
  echo "$main ${!wvar}" >"$pids"
  wait_confirmed "$db" job- "$JOBS"
  echo "jobs $(psql -qAt -F ' ' "$db" -c "$(jobs_sql job-)")" >>"$res"
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  echo "rss_peak $(cat "$tmp/peak.$app")" >>"$res"
  # the stock identity of every product: nothing lost, nothing oversold
  local bad
  bad=$(psql -qAt "$db" -c "SELECT count(*) FROM products WHERE (doc->>'stock')::bigint + (doc->>'reserved')::bigint + (doc->>'committed')::bigint + (doc->>'shipped')::bigint <> 1000000000 OR (doc->>'stock')::bigint < 0")
  [ "$bad" = 0 ] || { echo "run.sh: [$app] $bad products break the stock identity" >&2; exit 1; }
}

bench_app kirana "$kirana" "$pg_kirana" start_kirana_worker kw_pid "$k_pid"
stop "$kw_pid"
stop "$k_pid"
k_pid=

# --- the Node app ---
nport=$(free_port)
NODE_ENV=production PORT=$nport DATABASE_URL=$pg_node REDIS_URL=$redis_node JWT_SECRET=$secret \
  EVENTS_CHANNEL=$channel CART_MAX_QTY=1000000 node "$ref/server.js" >"$tmp/node-server.log" 2>&1 &
n_pid=$!
procs+=("$n_pid")
for _ in $(seq 1 200); do grep -q '^listening' "$tmp/node-server.log" && break; sleep 0.05; done
grep -q '^listening' "$tmp/node-server.log" || { cat "$tmp/node-server.log"; exit 1; }
psql -qAt "$pg_node" -c "\\copy products FROM '$tmp/products.copy'"
start_node_worker
bench_app node "http://127.0.0.1:$nport" "$pg_node" start_node_worker nw_pid "$n_pid"

cmp -s "$tmp/shape.kirana" "$tmp/shape.node" || {
  echo "run.sh: the answers' shapes differ:" >&2
  diff <(python3 -m json.tool "$tmp/shape.kirana") <(python3 -m json.tool "$tmp/shape.node") >&2
  exit 1
}

# --- the table ---
python3 - "$tmp/res.kirana" "$tmp/res.node" "$DURATION" "$C" "$M" "$ORDERS" "$JOBS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import sys
def load(p):
    return {l.split()[0]: l.split()[1:] for l in open(p) if l.strip()}
k, n = load(sys.argv[1]), load(sys.argv[2])
dur, c, m, orders, jobs, cpus, loadavg = sys.argv[3:]
ms = lambda us: f"{float(us) / 1000:.1f}"
def row(name, kr, nr):
    ratio = float(kr[0]) / float(nr[0]) if float(nr[0]) else float("inf")
    cpu = float(nr[3]) / float(kr[3]) if float(kr[3]) else float("inf")
    print(f"| {name} | {float(kr[0]):.0f} | {ms(kr[1])} | {ms(kr[2])} | {kr[3]} "
          f"| {float(nr[0]):.0f} | {ms(nr[1])} | {ms(nr[2])} | {nr[3]} | {ratio:.1f}x | {cpu:.1f}x |")
print(f"HTTP/1.1 keep-alive, {c} connections, {dur} s per h2load scenario; {orders} orders of 3 lines, "
      f"{jobs} backlog jobs; {cpus} CPUs shared by the app, PostgreSQL, Redis and the client "
      f"(load average at the end: {loadavg})")
print()
print("| scenario | kirana req/s | p50 ms | p99 ms | CPU us/req | node req/s | p50 ms | p99 ms | CPU us/req "
      "| req/s kirana/node | CPU node/kirana |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for key, name in [("products", "GET /products (20 of 200)"), ("product", "GET /products/{id}"),
                  ("cart_get", "GET /cart (10 lines)"), ("cart_post", "POST /cart/items")]:
    row(name, k[key], n[key])
row("POST /orders (3 lines, worker running)", k["orders"], n["orders"])
row("order created -> confirmed, orders/s", k["e2e"], n["e2e"])
kj, nj = float(k["jobs"][0]), float(n["jobs"][0])
print(f"| order jobs/s (backlog of {jobs}) | {kj:.0f} | | | | {nj:.0f} | | | | {kj / nj:.1f}x | |")
ki, ni, kp, np_ = (int(x) / 1024 for x in (k["rss_idle"][0], n["rss_idle"][0], k["rss_peak"][0], n["rss_peak"][0]))
print(f"| RSS idle, all processes (MiB) | {ki:.0f} | | | | {ni:.0f} | | | | | {ni / ki:.1f}x |")
print(f"| RSS peak under load (MiB) | {kp:.0f} | | | | {np_:.0f} | | | | | {np_ / kp:.1f}x |")
print()
print(f"kirana over h2c ({c} connections x {m} streams), for information:")
print()
print("| scenario | req/s | p50 ms | p99 ms | CPU us/req |")
print("|---|---|---|---|---|")
for key, name in [("h2_products", "GET /products"), ("h2_product", "GET /products/{id}"),
                  ("h2_cart_get", "GET /cart"), ("h2_cart_post", "POST /cart/items")]:
    v = k[key]
    print(f"| {name} | {float(v[0]):.0f} | {ms(v[1])} | {ms(v[2])} | {v[3]} |")
bad = [(a, key, v) for a, d in (("kirana", k), ("node", n)) for key, v in d.items() if len(v) == 6 and v[4] != v[5]]
for a, key, v in bad:
    print(f"error: {a} {key}: {v[4]} of {v[5]} requests succeeded")
sys.exit(1 if bad else 0)
PY

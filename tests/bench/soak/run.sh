#!/usr/bin/env bash
# Soak: a real kirana under mixed traffic for SOAK_SECONDS (default 600),
# watching each kirana process's memory.
#
# Two kirana processes share private PostgreSQL and Redis servers: one with
# the role http, one with the role worker (it confirms orders, commits
# their stock and runs the delivery jobs). Both load product.so, cart.so,
# order.so and the testkit authenticator ("Bearer test-<role>-<id>", as the
# order benchmark uses). soak.mjs drives the http process over HTTP/2: browse
# the catalogue, read products, add to carts, read carts, place orders (the
# worker confirms them), list and read orders; as an admin it restocks so
# stock never runs out and takes confirmed orders to delivered.
#
# The RSS (VmRSS) of each kirana process is sampled every SOAK_SAMPLE
# seconds (10). The script prints the series, then for each process the
# least-squares slope over the second half of the run in KiB/min, and
# exits non-zero when a slope exceeds SOAK_MAX_SLOPE (KiB/min, default 512:
# a leak of about 30 bytes per request at the defaults' ~280 requests/s,
# SOAK_RPS plus the admin's), when any request failed, when an order was
# not confirmed or a process died.
#
#   tests/bench/soak/run.sh [BUILD_DIR]                 (default: build)
#   SOAK_SECONDS=120 SOAK_RPS=300 tests/bench/soak/run.sh build-release
#
# Not run by ctest (ten minutes). Knobs: SOAK_SECONDS, SOAK_RPS (target
# requests per second, 200), SOAK_CONC (requests in flight, 16), SOAK_USERS
# (distinct buyers, 200), SOAK_PRODUCTS (40), SOAK_SAMPLE, SOAK_MAX_SLOPE.
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=$(realpath "${1:-build}")
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_RPS=${SOAK_RPS:-200}
SOAK_CONC=${SOAK_CONC:-16}
SOAK_USERS=${SOAK_USERS:-200}
SOAK_PRODUCTS=${SOAK_PRODUCTS:-40}
SOAK_SAMPLE=${SOAK_SAMPLE:-10}
SOAK_MAX_SLOPE=${SOAK_MAX_SLOPE:-512}
for v in SOAK_SECONDS SOAK_RPS SOAK_CONC SOAK_USERS SOAK_PRODUCTS SOAK_SAMPLE SOAK_MAX_SLOPE; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "soak: $v must be a positive integer, not '${!v}'" >&2; exit 2; }
done
[ "$SOAK_SECONDS" -ge $((4 * SOAK_SAMPLE)) ] ||
  { echo "soak: SOAK_SECONDS must be at least 4 samples ($((4 * SOAK_SAMPLE)) s)" >&2; exit 2; }
for f in "$build/core/kirana" "$build/plugins/product.so" "$build/plugins/cart.so" "$build/plugins/order.so" \
  "$build/fixtures/plugins/testkit.so"; do
  [ -e "$f" ] || { echo "soak: missing $f (build kirana, the plugins and fixture_testkit in $build)" >&2; exit 2; }
done
# shellcheck source=../lib.sh
. tests/bench/lib.sh
with_servers soak
w_pid=
trap 'kill $w_pid 2>/dev/null; wait $w_pid 2>/dev/null; bench_cleanup' EXIT

channel=soak:order-events
config() { # ROLE
  cat <<YAML
server:
  listen: [{ host: 127.0.0.1, port: 0 }]
  threads: 1
  workers: 8
roles: [$1]
db: { uri: "$KIRANA_TEST_PG_URI", pool_size: 12 }
redis: { url: "$KIRANA_TEST_REDIS_URL", pool_size: 12 }
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
      order_jobs: { concurrency: 4 }
      delivery: { concurrency: 2 }
YAML
}
config http >"$tmp/http.yaml"
config worker >"$tmp/worker.yaml"
"$build/core/kirana" --config "$tmp/http.yaml" 2>"$tmp/http.err" &
k_pid=$!
"$build/core/kirana" --config "$tmp/worker.yaml" 2>"$tmp/worker.err" &
w_pid=$!
port=$(listen_port "$k_pid") || { cat "$tmp/http.err"; exit 1; }
base=http://127.0.0.1:$port

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
sampler() {
  local t=0
  while :; do
    printf '%s %s %s\n' "$t" "$(rss "$k_pid")" "$(rss "$w_pid")" >>"$tmp/rss"
    sleep "$SOAK_SAMPLE"
    t=$((t + SOAK_SAMPLE))
  done
}

echo "soak: ${SOAK_SECONDS}s, target $SOAK_RPS req/s, $SOAK_CONC in flight, $SOAK_USERS buyers, $SOAK_PRODUCTS products"
echo "kirana: http pid $k_pid, worker pid $w_pid; $(nproc) cores"
sampler &
s_pid=$!
set +e
node tests/bench/soak/soak.mjs "$base" "$KIRANA_TEST_REDIS_PORT" "$channel" "$SOAK_SECONDS" "$SOAK_RPS" \
  "$SOAK_CONC" "$SOAK_USERS" "$SOAK_PRODUCTS"
client_rc=$?
kill "$s_pid" 2>/dev/null; wait "$s_pid" 2>/dev/null || true
alive=1
for p in "$k_pid" "$w_pid"; do kill -0 "$p" 2>/dev/null || { echo "soak: kirana pid $p died"; alive=0; }; done

python3 - "$tmp/rss" "$SOAK_MAX_SLOPE" <<'PY'
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
limit = float(sys.argv[2])
print("RSS (KiB) every sample:")
print("%6s %10s %10s" % ("t s", "http", "worker"))
for t, a, b in rows:
    print("%6d %10d %10d" % (t, a, b))
half = rows[len(rows) // 2:]
bad = 0
for col, name in ((1, "http"), (2, "worker")):
    xs = [r[0] / 60.0 for r in half]
    ys = [r[col] for r in half]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    allv = [r[col] for r in rows]
    verdict = "plateau" if slope <= limit else "GROWING"
    bad |= slope > limit
    print("%-6s first %d KiB, peak %d KiB, last %d KiB; second half (%d samples, t >= %d s): slope %.1f KiB/min "
          "(limit %.0f): %s" % (name, allv[0], max(allv), allv[-1], n, half[0][0], slope, limit, verdict))
sys.exit(1 if bad else 0)
PY
rss_rc=$?
set -e
for f in http worker; do
  echo "$f log: $(grep -c '"level":"warn"' "$tmp/$f.err") warn, $(grep -c '"level":"error"' "$tmp/$f.err") error lines"
done
grep -hv '"level":"info"' "$tmp/http.err" "$tmp/worker.err" | head -5 || true
if [ "$client_rc" -ne 0 ] || [ "$rss_rc" -ne 0 ] || [ "$alive" -ne 1 ]; then
  echo "soak: FAILED (client rc $client_rc, rss rc $rss_rc, processes alive $alive)"
  exit 1
fi
echo "soak: passed"

#!/usr/bin/env bash
# Mutation check of the attack suite (tests/integration/attacks/).
#
#   tests/hardening/mutants.sh [NAME...]
#
# Copies the source tree to a temporary folder, configures one release build
# there, starts private PostgreSQL and Redis (tests/servers/servers.sh), and
# checks that the unchanged tree passes the attack suite. Then, for each
# deliberate breakage below (all, or only the NAMEs given), it edits one
# source file of the copy with sed, rebuilds only the binaries the suite runs
# (make recompiles just the edited file), runs the attack file that should
# catch it, and restores the file. It prints one row per mutant:
#
#   mutant | file | expected failing subtest | result (killed / SURVIVED) | failing subtests
#
# and exits 1 if any mutant survived or did not apply, 2 if the unchanged
# tree fails. Needs what scripts/deps.sh installs; takes a few minutes.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/kirana-mutants.XXXXXX)
chmod 755 "$WORK" # PostgreSQL runs as its own user when we are root
TREE=$WORK/src
BUILD=$WORK/build
SERVERS=$WORK/servers
ATTACKS=$TREE/tests/integration/attacks
TARGETS=(kirana auth_plugin cart_plugin product_plugin order_plugin hello_plugin fixture_testkit)

cleanup() {
  "$TREE/tests/servers/servers.sh" stop "$SERVERS" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# name # file # attack test file # expected failing subtest (a substring of its name) # sed script
MUTANTS=(
  "otp-no-attempt-limit#plugins/auth/otp.c#api#OTP brute force#s/else if \(tries (>=?) st->otp\.max_attempts\)/else if (0 \&\& tries \1 st->otp.max_attempts)/"
  "otp-absent-code-distinct#plugins/auth/otp.c#api#OTP enumeration#s/if \(stored->type != KR_REDIS_STRING\) \{/& rc = KR_ENOTFOUND;/"
  "otp-no-cooldown#plugins/auth/ratelimit.c#api#OTP resend abuse#s/int refused = !cool_taken;/int refused = 0;/"
  "otp-no-per-ip-limit#plugins/auth/routes.c#edge#per-IP OTP limit without trusted hops#s/st->otp\.per_ip_per_hour, 3600\}/1000000000, 3600}/"
  "jwt-no-alg-pin#plugins/auth/jwt.c#api#HS/RS confusion#s/if \(jwt_get_alg\(jwt\) != JWT_ALG_HS256\) \{/if (0) {/"
  "jwt-no-exp#plugins/auth/jwt.c#api#expired, not-yet-valid#s/if \(([^{]*>= out->exp[^{]*)\) \{/if (0 \&\& \1) {/"
  "jwt-no-nbf-iat#plugins/auth/jwt.c#api#expired, not-yet-valid#s/if \(now \+ cfg->leeway < out->nbf \|\| now \+ cfg->leeway < out->iat\) \{/if (0) {/"
  "jwt-no-aud#plugins/auth/jwt.c#api#expired, not-yet-valid#s/if \(aud == NULL \|\| strcmp\(aud, cfg->audience\) != 0\) \{/if (0 \&\& aud == NULL) {/"
  "refresh-reuse-no-revoke#plugins/auth/refresh.c#api#refresh reuse#0,/rc = auth_session_revoke\(st, out->sid, NULL, \"reuse\"\);/s//rc = KR_OK;/"
  "core-no-admin-check#core/server/pipeline.c#api#BFLA#s/if \(route->auth == KR_AUTH_ADMIN && strcmp\(r->principal\.role, \"admin\"\) != 0\)/if (0)/"
  "order-no-owner-check#plugins/order/handlers.c#api#BOLA on orders#s/if \(!is_admin\(p\) && \(owner == NULL/if (0 \&\& !is_admin(p) \&\& (owner == NULL/"
  "order-user-filter-allowed#plugins/order/handlers.c#api#BFLA#s/if \(only != NULL && !is_admin\(p\)\)/if (0)/"
  "cart-accepts-unknown-fields#plugins/cart/validate.c#api#BOLA on carts#s/if \(!known\) \{/if (0) {/"
  "product-accepts-unknown-fields#plugins/product/validate.c#api#mass assignment#s/msg = is_read_only\(key\) \? \"is read-only\" : \"is not a known field\";/{ (void)is_read_only; continue; }/"
  "auth-accepts-unknown-fields#plugins/auth/routes.c#api#mass assignment#s/if \(!known\)$/if (0)/"
  "order-accepts-unknown-fields#plugins/order/validate.c#api#mass assignment#s/kr_invalid_add\(errors, field, \"is not a known field\"\);/(void)errors; (void)field;/"
  "cart-no-qty-bound#plugins/cart/validate.c#api#quantities#s/if \(n > CART_QTY_INPUT_MAX\)/if (0)/"
  "product-no-price-bound#plugins/product/validate.c#api#prices and stock deltas#s/json_integer_value\(v\) > PRODUCT_PRICE_MAX/0/"
  "product-no-stock-ceiling#plugins/product/store.c#api#integer overflow#s/PRODUCT_STOCK_MAX - delta/PRODUCT_STOCK_MAX * 1000 - delta/"
  "core-no-body-limit#core/server/pipeline.c#api#oversized JSON#s/req->entity\.len > app->cfg->server\.max_body/0/"
  "core-no-json-depth#core/server/json.c#api#deeply nested JSON#s/if \(max_nesting\(buf, len, max_depth\) > max_depth\)/if (0 \&\& max_nesting(buf, len, max_depth) > max_depth)/"
  "cors-any-origin#core/router/cors.c#api#CORS#s/^    if \(c->any\)$/    if (1)/"
  "xff-always-trusted#core/server/request.c#api#X-Forwarded-For without trusted hops#s/int hops = r->app->cfg->server\.trusted_proxy_hops;/int hops = 1;/"
  "xff-left-most#core/server/request.c#edge#one trusted hop#s/int idx = n - hops;/int idx = 0;/"
  "config-no-path-check#core/config/config.c#edge#plugin paths#s/if \(path\[0\] != '\/' && \(strchr\(path, '\/'\) != NULL \|\| strstr\(path, \"\.\.\"\) != NULL\)\) \{/if (0) {/"
  "config-no-symlink-check#core/config/config.c#edge#plugin paths#s/if \(path\[0\] != '\/' && outside_dir\(/if (0 \&\& outside_dir(/"
)

want=("$@")
selected() {
  [ ${#want[@]} -eq 0 ] && return 0
  local n
  for n in "${want[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}

echo "mutants: copying $SRC to $TREE" >&2
mkdir -p "$TREE"
tar -C "$SRC" --exclude='./build' --exclude='./build-*' --exclude='./.git' --exclude='./node_modules' -cf - . |
  tar -C "$TREE" -xf -
[ -d "$SRC/node_modules" ] && ln -s "$SRC/node_modules" "$TREE/node_modules"

echo "mutants: configuring and building the unchanged tree" >&2
cmake -S "$TREE" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/configure.log" 2>&1 ||
  { tail -20 "$WORK/configure.log" >&2; exit 2; }
build() { cmake --build "$BUILD" -j2 --target "${TARGETS[@]}" >"$WORK/build.log" 2>&1; }
build || { tail -30 "$WORK/build.log" >&2; exit 2; }

"$TREE/tests/servers/servers.sh" start "$SERVERS" >"$WORK/servers.log" 2>&1 ||
  { cat "$WORK/servers.log" >&2; exit 2; }

export KIRANA_SOURCE_DIR=$TREE KIRANA_BUILD_DIR=$BUILD KIRANA_BIN=$BUILD/core/kirana
export KIRANA_PLUGIN_DIR=$BUILD/plugins KIRANA_FIXTURE_PLUGIN_DIR=$BUILD/fixtures/plugins
export KIRANA_TEST_SERVERS_ENV=$SERVERS/env KIRANA_SANITIZE=0

# Runs one attack file; prints the names of its failing subtests, one a line.
run_suite() {
  local out=$WORK/run-$1.tap
  (cd "$BUILD" && timeout 300 node --test --test-reporter=tap "$ATTACKS/$1.test.mjs") >"$out" 2>&1 || true
  local fails
  fails=$(sed -nE 's/^ {0,4}not ok [0-9]+ - (.*)$/\1/p' "$out" | grep -v '\.test\.mjs$' || true)
  if [ -n "$fails" ]; then echo "$fails"
  elif ! grep -qE '^# fail 0$' "$out"; then echo "(the file failed outside its subtests: $out)"
  fi
}

for f in api edge; do
  fails=$(run_suite "$f")
  if [ -n "$fails" ]; then
    echo "mutants: the unchanged tree fails $f.test.mjs:" >&2
    echo "$fails" >&2
    exit 2
  fi
done
echo "mutants: unchanged tree passes; running mutants" >&2

status=0
printf '| %s | %s | %s | %s | %s |\n' mutant file "expected failing subtest" result "failing subtests"
printf '|---|---|---|---|---|\n'
for m in "${MUTANTS[@]}"; do
  IFS='#' read -r name file suite expect script <<<"$m"
  selected "$name" || continue
  cp "$TREE/$file" "$WORK/orig"
  sed -E -i "$script" "$TREE/$file"
  if cmp -s "$TREE/$file" "$WORK/orig"; then
    result="NOT APPLIED"; fails=""
    status=1
  elif ! build; then
    result="BUILD FAILED"; fails=$(grep -m1 -E 'error' "$WORK/build.log" || true)
    status=1
  else
    fails=$(run_suite "$suite")
    if grep -qF -- "$expect" <<<"$fails"; then result=killed; else result=SURVIVED; status=1; fi
  fi
  cp "$WORK/orig" "$TREE/$file"
  n=$(grep -c . <<<"$fails" || true)
  printf '| %s | %s | %s.test.mjs: %s | %s | %s |\n' "$name" "$file" "$suite" "$expect" "$result" \
    "$n: $(awk 'NR > 1 { printf " / " } { printf "%s", $0 }' <<<"$fails" | cut -c1-200)"
done
build || true
exit $status

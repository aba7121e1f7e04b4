#!/usr/bin/env bash
# HTTP/2 conformance of kirana with h2spec (github.com/summerwind/h2spec):
# starts kirana on two free ports, h2c (prior knowledge, the port it shares
# with HTTP/1.1) and TLS (ALPN h2, a throwaway self-signed certificate),
# runs h2spec against each and prints, per transport, one summary line
#   h2spec <h2c|tls>: <passed> passed, <failed> failed of <total>
# followed by the failing cases. tests/hardening/H2SPEC.md explains each
# failure; the ctest it_hardening_h2spec fails when a pass count drops
# below the baseline recorded there.
#
#   tests/hardening/h2spec.sh [BUILD_DIR]     (default: build)
#   KIRANA_BIN=path  H2SPEC=path  H2SPEC_STRICT=1 (adds -S, strict cases)
#
# Installs h2spec with `go install` into GOBIN (default $HOME/go/bin) when it
# is not found. Exits non-zero only when h2spec or kirana cannot run.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
bin=${KIRANA_BIN:-$build/core/kirana}
gobin=${GOBIN:-$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin}
h2spec=${H2SPEC:-$(command -v h2spec || echo "$gobin/h2spec")}
if [ ! -x "$h2spec" ]; then
  echo "installing h2spec into $gobin" >&2
  GOBIN=$gobin go install github.com/summerwind/h2spec/cmd/h2spec@latest >&2
  h2spec=$gobin/h2spec
fi

tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/tls.key" -out "$tmp/tls.crt" -days 2 \
  -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null
cat >"$tmp/kirana.yaml" <<YAML
server:
  listen:
    - { host: 127.0.0.1, port: 0 }
    - { host: 127.0.0.1, port: 0, tls: { cert: tls.crt, key: tls.key } }
  threads: 1
  workers: 2
roles: [http]
log: { level: info, access: false }
YAML
"$bin" --config "$tmp/kirana.yaml" 2>"$tmp/kirana.log" &
pid=$!
ports=()
for _ in $(seq 1 200); do
  mapfile -t ports < <(sed -n 's/.*"listening on https\{0,1\}:\/\/[^ ]*:\([0-9]*\) .*/\1/p' "$tmp/kirana.log")
  [ ${#ports[@]} -ge 2 ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/kirana.log" >&2; exit 1; }
  sleep 0.05
done
[ ${#ports[@]} -ge 2 ] || { echo "kirana did not start listening" >&2; cat "$tmp/kirana.log" >&2; exit 1; }
strict=()
[ "${H2SPEC_STRICT:-0}" = 1 ] && strict=(-S)

run() {
  local name=$1; shift
  # h2spec exits 1 when a case fails; that is a result, not an error
  "$h2spec" -h 127.0.0.1 -o 3 "${strict[@]}" "$@" >"$tmp/$name.txt" 2>&1 || true
  local summary
  summary=$(grep -E '^[0-9]+ tests, [0-9]+ passed' "$tmp/$name.txt" | tail -1)
  [ -n "$summary" ] || { echo "h2spec $name did not finish:" >&2; cat "$tmp/$name.txt" >&2; exit 1; }
  awk -v n="$name" '{printf "h2spec %s: %d passed, %d failed of %d\n", n, $3, $7, $1}' <<<"$summary"
  # the failing cases: their section path and title
  sed -n '/^Failures:/,$p' "$tmp/$name.txt" | grep -E '^ +(×|[0-9A-Za-z])' | grep -vE 'Expected|Actual|->' |
    sed 's/^/  /' || true
}
run h2c -p "${ports[0]}"
run tls -p "${ports[1]}" -t -k

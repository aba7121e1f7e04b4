#!/usr/bin/env bash
# Installs what is missing, builds kirana and runs it with config/kirana.yaml.
#
# Without KIRANA_DB_URI / KIRANA_REDIS_URL in the environment it starts a
# private PostgreSQL and Redis for this run (tests/servers/servers.sh) and
# stops them when kirana exits. A self-signed certificate for the TLS
# listener is made in config/certs/ on first run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

if [ ! -f config/certs/dev.crt ]; then
  mkdir -p config/certs
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout config/certs/dev.key -out config/certs/dev.crt 2>/dev/null
fi

if [ -z "${KIRANA_DB_URI:-}" ] || [ -z "${KIRANA_REDIS_URL:-}" ]; then
  dir=${KIRANA_DEV_SERVERS:-/tmp/kirana-dev-servers}
  tests/servers/servers.sh start "$dir"
  trap 'tests/servers/servers.sh stop "$dir"' EXIT
  # shellcheck disable=SC1091
  . "$dir/env"
  psql "$KIRANA_TEST_PG_URI" -qc 'CREATE DATABASE kirana' >/dev/null
  export KIRANA_DB_URI=${KIRANA_DB_URI:-postgresql://postgres@127.0.0.1:$KIRANA_TEST_PG_PORT/kirana}
  export KIRANA_REDIS_URL=${KIRANA_REDIS_URL:-$KIRANA_TEST_REDIS_URL}
  export KIRANA_QUEUE_REDIS_URL=${KIRANA_QUEUE_REDIS_URL:-$KIRANA_TEST_REDIS_URL}
fi

MONGOC_DISABLE_SHM=1 build/core/kirana --config config/kirana.yaml &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid; tests/servers/servers.sh stop "${dir:-/nonexistent}" 2>/dev/null || true' INT TERM
wait $pid

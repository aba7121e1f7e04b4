#!/usr/bin/env bash
# Installs what building, running and testing kirana needs on Debian 12:
# Debian packages (only those missing) and the pinned npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(
  build-essential cmake pkg-config git ca-certificates python3
  libh2o-evloop-dev libssl-dev libjansson-dev libyaml-dev libpq-dev
  libhiredis-dev libmsgpack-dev libsodium-dev libcurl4-openssl-dev libjwt-dev
  libmongoc-dev libbson-dev libcmocka-dev
  postgresql postgresql-client redis-server redis-tools nghttp2-client curl openssl
  clang libclang-rt-14-dev
)
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps.sh: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The queue dashboard's browser test drives Debian's chromium. It is
# optional: when it cannot be installed the test says so and skips, and the
# rest of the build and tests go on.
if ! command -v chromium >/dev/null; then
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  { "${sudo_cmd[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends chromium; } ||
    echo "deps.sh: chromium could not be installed; the dashboard browser test will skip" >&2
fi

# The debian redis-server package starts a system instance on 6379; kirana's
# scripts never use it, they start their own on free ports.
if [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi

# The queue dashboard (tools/queue-dashboard) has its own lockfile: Bull
# Board and its browser test stay out of the build's packages.
dash=tools/queue-dashboard
if [ -f $dash/package-lock.json ]; then
  if [ ! -d $dash/node_modules ] || [ $dash/package-lock.json -nt $dash/node_modules/.package-lock.json ]; then
    npm ci --prefix $dash --no-audit --no-fund --loglevel=error
  fi
fi

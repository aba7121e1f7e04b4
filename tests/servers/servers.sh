#!/usr/bin/env bash
# Private PostgreSQL and Redis servers for tests and for local runs.
#
#   servers.sh start DIR   start both on free loopback ports, data under DIR;
#                          writes DIR/env (shell and Node readable KEY=VALUE)
#   servers.sh stop DIR    stop both and remove DIR (safe to repeat)
#   servers.sh env DIR     print DIR/env
#   servers.sh restart DIR pg|redis   restart one of them on the same port
#                          (PostgreSQL keeps its data, Redis starts empty)
#   servers.sh pause DIR pg|redis     SIGSTOP it (every PostgreSQL process):
#                          connections stay open, nothing answers
#   servers.sh resume DIR pg|redis    SIGCONT it
#
# PostgreSQL refuses to run as root, so as root the cluster runs as the
# `postgres` user. Missing packages are installed with apt-get.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
usage="usage: $0 start|stop|env DIR, or $0 restart|pause|resume DIR pg|redis"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "$usage" >&2; exit 2; }

pgbin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  return 1
}

ensure_packages() {
  local missing=()
  pgbin >/dev/null || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v psql >/dev/null || missing+=(postgresql-client)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "servers.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

free_port() {
  # Ask the kernel for a free port, then hand it over.
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

redis_up() {
  redis-server --bind 127.0.0.1 --port "$1" --save "" --appendonly no \
    --dir "$dir/redis" --daemonize yes --pidfile "$dir/redis/redis.pid" \
    --logfile "$dir/redis/redis.log" --maxmemory-policy noeviction
  for _ in $(seq 1 100); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
}

redis_down() {
  local pid; pid=$(cat "$dir/redis/redis.pid")
  kill "$pid" 2>/dev/null || true
  # redis writes into its folder until it is gone
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
}

# the pids of one server: PostgreSQL's postmaster first, then its children
server_pids() {
  case "$1" in
    pg) local pm; pm=$(head -1 "$dir/pg/data/postmaster.pid"); echo "$pm"; pgrep -P "$pm" || true ;;
    redis) cat "$dir/redis/redis.pid" ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
}

restart() {
  # shellcheck disable=SC1091
  . "$dir/env"
  case "$1" in
    pg) as_pg "$KIRANA_TEST_PG_BIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -m fast -w -t 60 restart >/dev/null ;;
    redis) redis_down; redis_up "$KIRANA_TEST_REDIS_PORT" ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
}

start() {
  ensure_packages
  local bin; bin=$(pgbin)
  if [ -f "$dir/env" ]; then stop; fi
  mkdir -p "$dir"
  chmod 755 "$dir"
  local pgport redisport
  pgport=$(free_port)
  redisport=$(free_port)

  mkdir -p "$dir/pg" "$dir/redis"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/pg"
  as_pg "$bin/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/pg/initdb.log" 2>&1 ||
    { cat "$dir/pg/initdb.log" >&2; exit 1; }
  as_pg "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
    -o "-p $pgport -k $dir/pg -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { cat "$dir/pg/server.log" >&2; exit 1; }

  redis_up "$redisport"

  cat >"$dir/env" <<ENV
KIRANA_TEST_PG_BIN=$bin
KIRANA_TEST_PG_DATA=$dir/pg/data
KIRANA_TEST_PG_PORT=$pgport
KIRANA_TEST_PG_URI=postgresql://postgres@127.0.0.1:$pgport/postgres
KIRANA_TEST_REDIS_PORT=$redisport
KIRANA_TEST_REDIS_URL=redis://127.0.0.1:$redisport/0
KIRANA_TEST_REDIS_PIDFILE=$dir/redis/redis.pid
ENV
  echo "servers.sh: postgresql on 127.0.0.1:$pgport, redis on 127.0.0.1:$redisport ($dir/env)"
}

stop() {
  [ -d "$dir" ] || return 0
  local bin; bin=$(pgbin || true)
  if [ -n "$bin" ] && [ -f "$dir/pg/data/postmaster.pid" ]; then
    for pid in $(server_pids pg 2>/dev/null); do kill -CONT "$pid" 2>/dev/null || true; done
    as_pg "$bin/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/redis/redis.pid" ]; then
    kill -CONT "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
    redis_down
  fi
  rm -rf "$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  env) cat "$dir/env" ;;
  restart) restart "${3:-}" ;;
  # stop the postmaster first so that it forks nothing new meanwhile
  pause) for pid in $(server_pids "${3:-}"); do kill -STOP "$pid"; done ;;
  resume) for pid in $(server_pids "${3:-}" | tac); do kill -CONT "$pid"; done ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

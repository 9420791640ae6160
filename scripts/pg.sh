#!/usr/bin/env bash
# pg.sh start|stop: a throwaway PostgreSQL for the tests, on 127.0.0.1.
# start prints the database URL on its last line. Runs the server as the
# postgres user (initdb refuses root); installs Debian's postgresql if absent.
set -euo pipefail
dir=${ERRAND_PG_DIR:-/tmp/errand-pg}
port=${ERRAND_PG_PORT:-54329}

find_bin() {
  for d in /usr/local/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

case "${1:-}" in
start)
  if ! bin=$(find_bin); then
    echo "installing postgresql from Debian..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
    bin=$(find_bin)
  fi
  run() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
  if [ -f "$dir/data/postmaster.pid" ]; then run "$bin/pg_ctl -D $dir/data -m immediate stop" >&2 || true; fi
  rm -rf "$dir"; mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  run "$bin/initdb -D $dir/data -U postgres --auth=trust --locale=C -E UTF8" >/dev/null
  run "$bin/pg_ctl -D $dir/data -l $dir/log -w -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=${ERRAND_PG_FSYNC:-off} -c max_connections=300 -c shared_buffers=256MB' start" >&2
  echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  ;;
stop)
  if bin=$(find_bin) && [ -f "$dir/data/postmaster.pid" ]; then
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$bin/pg_ctl -D $dir/data -m fast stop" >&2 || true
    else "$bin/pg_ctl" -D "$dir/data" -m fast stop >&2 || true; fi
  fi
  rm -rf "$dir"
  ;;
*) echo "usage: pg.sh start|stop" >&2; exit 2 ;;
esac

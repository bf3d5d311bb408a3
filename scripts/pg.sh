#!/usr/bin/env bash
# Throwaway PostgreSQL for tests, benchmarks and ./run.sh.
#   scripts/pg.sh install          install PostgreSQL from Debian's packages when initdb is missing
#   scripts/pg.sh start DIR PORT   initdb (if needed) and start a server on 127.0.0.1:PORT with data in DIR;
#                                  prints the Npgsql connection string on stdout
#   scripts/pg.sh stop DIR         stop the server whose data is in DIR (fast shutdown)
# PostgreSQL refuses to run as root, so as root the server runs as the "postgres" user.
# PG_EXTRA_OPTS adds server options (e.g. "-c fsync=off" for tests).
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  local candidate
  candidate=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$candidate" ]; then echo "$candidate"; return 0; fi
  return 1
}

install_pg() {
  if find_bin initdb >/dev/null && find_bin pg_ctl >/dev/null; then return 0; fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "pg.sh: PostgreSQL (initdb) is not installed and this is not root; install it with: sudo apt-get install -y postgresql" >&2
    exit 1
  fi
  echo "pg.sh: installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_pg() {
  local dir=$1 port=$2
  install_pg
  local initdb pg_ctl
  initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
  local user
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    user=postgres
  else
    user=$(id -un)
  fi
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir" && chmod 700 "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_owner "$initdb" -D "$dir" -U "$user" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  # A server left behind by an earlier run (e.g. a killed test) is stopped first.
  as_owner "$pg_ctl" -D "$dir" status >/dev/null 2>&1 && as_owner "$pg_ctl" -D "$dir" -m fast -w stop >/dev/null
  as_owner "$pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 ${PG_EXTRA_OPTS:-}" start >/dev/null
  echo "Host=127.0.0.1;Port=$port;Username=$user;Database=postgres"
}

stop_pg() {
  local dir=$1
  local pg_ctl
  pg_ctl=$(find_bin pg_ctl) || return 0
  [ -f "$dir/PG_VERSION" ] || return 0
  as_owner "$pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  install) install_pg ;;
  start) start_pg "${2:?data directory}" "${3:?port}" ;;
  stop) stop_pg "${2:?data directory}" ;;
  *) echo "usage: $0 install | start DIR PORT | stop DIR" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Starts (or reuses) a private PostgreSQL on loopback for the tests and prints its URL.
#   build/postgres.sh start   → prints postgres://halfkey@127.0.0.1:PORT/halfkey_test
#   build/postgres.sh status  → exit 0 when it is running
#   build/postgres.sh stop
# Debian's postgresql package puts the binaries under /usr/lib/postgresql/<major>/bin.
set -euo pipefail
port="${HALFKEY_PG_PORT:-55432}"
data="${HALFKEY_PG_DATA:-${TMPDIR:-/tmp}/halfkey-pg-$port}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -n "$bin" ] || { echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-start}" in
  start)
    if [ ! -s "$data/PG_VERSION" ]; then
      mkdir -p "$data"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
      as_pg "$bin/initdb" -D "$data" -U halfkey --auth=trust --encoding=UTF8 >/dev/null
    fi
    if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$data' -c fsync=on -c max_connections=200" start >/dev/null
    fi
    as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U halfkey -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='halfkey_test'" | grep -q 1 \
      || as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U halfkey halfkey_test
    echo "postgres://halfkey@127.0.0.1:$port/halfkey_test"
    ;;
  status)
    as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
    ;;
  stop)
    as_pg "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: build/postgres.sh start|status|stop" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A local PostgreSQL cluster on 127.0.0.1 only, run as user postgres (Postgres refuses root).
#   pg.sh start DATADIR PORT     initdb if needed, then start
#   pg.sh stop DATADIR
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
cmd=$1; dir=$(realpath -m "$2")

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    port=$3
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
      chmod 700 "$dir"
      # trust on loopback only: this is a development / test cluster
      as_postgres "$PGBIN/initdb" -D "$dir" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if as_postgres "$PGBIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      echo "pg: already running in $dir"
      exit 0
    fi
    # without RUST_BACKTRACE: pgrx would append a Rust backtrace to the DETAIL of errors raised
    # inside the extension, and error details reach API clients
    as_postgres env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$dir' -c max_connections=200" \
      start >/dev/null
    ;;
  stop)
    if [ -f "$dir/postmaster.pid" ]; then
      as_postgres "$PGBIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
    fi
    ;;
  *) echo "usage: pg.sh start DATADIR PORT | stop DATADIR" >&2; exit 2 ;;
esac

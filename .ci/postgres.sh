#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 for the test suite and print the
# `export ROSTRO_TEST_POSTGRES_URL=...` line to eval. Usage: eval "$(bash .ci/postgres.sh)"
# Stop it with: bash .ci/postgres.sh stop
set -euo pipefail
PORT=${ROSTRO_PG_PORT:-54329}
DATA=${ROSTRO_PG_DATA:-/tmp/rostro-pgdata}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "echo 'PostgreSQL is not installed: its tests will be skipped' >&2"
  exit 0
fi
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
if [ "${1:-}" = stop ]; then
  as_pg "$bin/pg_ctl -D $DATA -m immediate stop" >/dev/null 2>&1 || true
  exit 0
fi
if ! as_pg "$bin/pg_ctl -D $DATA status" >/dev/null 2>&1; then
  rm -rf "$DATA"
  mkdir -p "$DATA"
  [ "$(id -u)" = 0 ] && chown postgres "$DATA"
  as_pg "$bin/initdb -D $DATA -U postgres --auth=trust -E UTF8 --no-locale" >/dev/null
  as_pg "$bin/pg_ctl -D $DATA -l $DATA/server.log -w -o '-p $PORT -c listen_addresses=127.0.0.1 -k /tmp -c fsync=off -c max_connections=200' start" >/dev/null
fi
echo "export ROSTRO_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"

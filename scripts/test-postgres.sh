#!/usr/bin/env bash
# A PostgreSQL server for the tests, from Debian's packages, on 127.0.0.1:
#   eval "$(bash scripts/test-postgres.sh start)"   # prints the CLAUDE_MLFLOW_TEST_PG_* exports
#   bash scripts/test-postgres.sh stop "$CLAUDE_MLFLOW_TEST_PG_DIR"
#   bash scripts/test-postgres.sh start --durable  # PostgreSQL's own durability settings (benchmarks)
# A fresh cluster in a temp folder, its Unix socket there too; the superuser
# `postgres` logs in over the socket (trust), every other user over TCP with a
# password (scram-sha-256). The tests (test/helpers/postgres.ts) create a role
# and a database of their own on it, and drop them again. As root, the server
# runs as the `postgres` system user: PostgreSQL refuses to run as root.
set -euo pipefail

bin=""
for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
  if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then bin="$dir"; break; fi
done
[ -n "$bin" ] || { echo "no PostgreSQL in /usr/lib/postgresql/<version>/bin: apt-get install postgresql" >&2; exit 1; }

as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    dir="$(mktemp -d "${TMPDIR:-/tmp}/claude-mlflow-ci-pg-XXXXXX")"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$dir"
    chmod 700 "$dir"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    max_connections=100
    # Tests trade durability for speed; benchmarks keep PostgreSQL's defaults (fsync, synchronous commit, full pages).
    speed="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [ "${2:-}" = "--durable" ] && speed=""
    (cd / && as_server_user "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1) || { cat "$dir/initdb.log" >&2; exit 1; }
    (cd / && as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir $speed -c max_connections=$max_connections" \
      start >/dev/null) || { tail -n 20 "$dir/postgres.log" >&2; exit 1; }
    echo "export CLAUDE_MLFLOW_TEST_PG_DIR='$dir' CLAUDE_MLFLOW_TEST_PG_PORT='$port' CLAUDE_MLFLOW_TEST_PG_MAX_CONNECTIONS='$max_connections'"
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') listening on 127.0.0.1:$port" >&2
    ;;
  stop)
    dir="${2:?the folder that start printed}"
    (cd / && as_server_user "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1) || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start [--durable] | stop DIR" >&2
    exit 2
    ;;
esac

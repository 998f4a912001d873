#!/usr/bin/env bash
# Run a command as on a fresh developer machine that has Node and Python but
# none of the system tools some tests need (test/helpers/system-tools.ts):
#   bash scripts/without-system-tools.sh npx vitest run test/adapters/service
# Those tests must then be skipped, saying why, and the rest must pass.
#
# - CI is unset: under CI=true a missing tool fails its tests instead.
# - PATH is a folder of symlinks to every program on PATH except
#   systemd-analyze, xmllint and PostgreSQL's programs. They live in /usr/bin
#   beside everything else, so no PATH entry can simply be dropped; the first
#   program of each name wins, as in a PATH lookup.
# - PostgreSQL's server binaries are looked for in an empty folder
#   (CLAUDE_MLFLOW_TEST_PG_ROOT), and the shared test server that .ci/run
#   started is forgotten (CLAUDE_MLFLOW_TEST_PG_DIR, _PORT).
set -euo pipefail

[ "$#" -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }

hidden='^(systemd-analyze|xmllint|psql|initdb|postgres|pg_.*)$'

shadow="$(mktemp -d "${TMPDIR:-/tmp}/claude-mlflow-no-tools-XXXXXX")"
trap 'rm -rf "$shadow"' EXIT
mkdir "$shadow/bin" "$shadow/no-postgresql"

IFS=: read -ra path_dirs <<< "$PATH"
for dir in "${path_dirs[@]}"; do
  [ -d "$dir" ] || continue
  for program in "$dir"/*; do
    name="${program##*/}"
    [[ "$name" =~ $hidden ]] && continue
    [ -f "$program" ] && [ -x "$program" ] || continue
    [ -e "$shadow/bin/$name" ] || ln -s "$program" "$shadow/bin/$name"
  done
done

# The point of the run: fail loudly if a hidden tool can still be found.
for tool in systemd-analyze xmllint psql initdb pg_ctl; do
  if (PATH="$shadow/bin"; command -v "$tool" >/dev/null 2>&1); then
    echo "$0: $tool is still on the PATH built to hide it" >&2
    exit 1
  fi
done

echo "== without systemd-analyze, xmllint and PostgreSQL, CI unset: $*"
env -u CI -u CLAUDE_MLFLOW_TEST_PG_DIR -u CLAUDE_MLFLOW_TEST_PG_PORT \
  PATH="$shadow/bin" CLAUDE_MLFLOW_TEST_PG_ROOT="$shadow/no-postgresql" "$@"

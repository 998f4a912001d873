#!/usr/bin/env bash
# Creates the MLflow virtualenvs that the tests use, each with its MLflow
# from its lock (locks/), as `init` installs it (the pinned uv bootstrapped
# into the venv; src/core/mlflow-versions.ts). Idempotent: a venv that
# already has the right versions is kept.
# - .venv ($CLAUDE_MLFLOW_TEST_VENV): MLflow 3.12.0 ($MLFLOW_TEST_VERSION),
#   the last whose own Claude Code hook is Python, for the differential tests;
#   with Flask-WTF, MLflow's `auth` extra (`mlflow server --app-name
#   basic-auth`, test/e2e/remote-auth.test.ts), and psycopg2-binary, the
#   PostgreSQL driver (test/e2e/postgres.test.ts; the same pin as
#   PSYCOPG2_REQUIREMENT in src/core/backend-store.ts).
# - .venv-default ($CLAUDE_MLFLOW_TEST_DEFAULT_VENV): the MLflow `init`
#   installs by default, for the tests that check against it.
set -euo pipefail
cd "$(dirname "$0")/.."
FLASK_WTF_VERSION="1.3.0"
PSYCOPG2_VERSION="2.9.11"
PYTHON="${PYTHON:-python3}"
UV_VERSION="$(sed -n "s/^export const UV_VERSION = '\(.*\)';$/\1/p" src/core/mlflow-versions.ts)"
DEFAULT_VERSION="$(sed -n "s/^export const DEFAULT_MLFLOW_VERSION = '\(.*\)';$/\1/p" src/core/mlflow-versions.ts)"

# has VENV PACKAGE VERSION
has() { "$1/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$2') != '$3')" 2>/dev/null; }

# make_venv VENV MLFLOW_VERSION [NAME==VERSION...]: MLflow from its lock, plus the extra pins.
make_venv() {
  local venv="$1" version="$2"
  shift 2
  local ready=1
  has "$venv" mlflow "$version" || ready=0
  for pin in "$@"; do has "$venv" "${pin%%==*}" "${pin##*==}" || ready=0; done
  [ "$ready" = 1 ] && return 0
  local lock="locks/mlflow-$version.txt"
  [ -f "$lock" ] || { echo "no lock for MLflow $version: $lock (scripts/lock-mlflow.mjs makes one)" >&2; exit 1; }
  echo "Creating $venv with MLflow $version from $lock (uv $UV_VERSION)"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check -q "uv==$UV_VERSION"
  UV_SYSTEM_CERTS=1 "$venv/bin/uv" pip install --python "$venv/bin/python" -q -r "$lock" "$@"
  "$venv/bin/mlflow" --version
}

make_venv "${CLAUDE_MLFLOW_TEST_VENV:-.venv}" "${MLFLOW_TEST_VERSION:-3.12.0}" "Flask-WTF==$FLASK_WTF_VERSION" "psycopg2-binary==$PSYCOPG2_VERSION"
make_venv "${CLAUDE_MLFLOW_TEST_DEFAULT_VENV:-.venv-default}" "$DEFAULT_VERSION"

#!/usr/bin/env bash
# Creates the MLflow virtualenv that the tests use (.venv at the repository
# root, or $CLAUDE_MLFLOW_TEST_VENV), with the pinned MLflow and its lock. Idempotent: an
# existing venv with the right version is kept. pip's cache is reused.
# Flask-WTF is MLflow's `auth` extra: `mlflow server --app-name basic-auth`
# (test/e2e/remote-auth.test.ts) does not start without it.
# psycopg2-binary is the PostgreSQL driver MLflow's server needs on a
# postgresql:// backend store (test/e2e/postgres.test.ts); the same pin as
# PSYCOPG2_REQUIREMENT in src/core/backend-store.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
MLFLOW_VERSION="${MLFLOW_TEST_VERSION:-3.12.0}"
FLASK_WTF_VERSION="1.3.0"
PSYCOPG2_VERSION="2.9.11"
VENV="${CLAUDE_MLFLOW_TEST_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

has() { "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" 2>/dev/null; }

if [ -x "$VENV/bin/python" ] && has mlflow "$MLFLOW_VERSION"; then
  if ! has Flask-WTF "$FLASK_WTF_VERSION"; then
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "Flask-WTF==$FLASK_WTF_VERSION"
  fi
  if ! has psycopg2-binary "$PSYCOPG2_VERSION"; then
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "psycopg2-binary==$PSYCOPG2_VERSION"
  fi
  exit 0
fi
# As `init` installs it: MLflow from its lock (locks/), with the pinned uv
# bootstrapped into the venv (src/core/mlflow-versions.ts).
UV_VERSION="$(sed -n "s/^export const UV_VERSION = '\(.*\)';$/\1/p" src/core/mlflow-versions.ts)"
LOCK="locks/mlflow-$MLFLOW_VERSION.txt"
[ -f "$LOCK" ] || { echo "no lock for MLflow $MLFLOW_VERSION: $LOCK (scripts/lock-mlflow.mjs makes one)" >&2; exit 1; }
echo "Creating $VENV with MLflow $MLFLOW_VERSION from $LOCK (uv $UV_VERSION)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q "uv==$UV_VERSION"
"$VENV/bin/uv" pip install --python "$VENV/bin/python" -q -r "$LOCK" "Flask-WTF==$FLASK_WTF_VERSION" "psycopg2-binary==$PSYCOPG2_VERSION"
"$VENV/bin/mlflow" --version

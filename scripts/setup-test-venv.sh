#!/usr/bin/env bash
# Creates the MLflow virtualenv that the tests use (.venv at the repository
# root, or $CLAUDE_MLFLOW_TEST_VENV), with the pinned MLflow. Idempotent: an
# existing venv with the right version is kept. pip's cache is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
MLFLOW_VERSION="${MLFLOW_TEST_VERSION:-3.12.0}"
VENV="${CLAUDE_MLFLOW_TEST_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mlflow') != '$MLFLOW_VERSION')" 2>/dev/null; then
  exit 0
fi
echo "Creating $VENV with mlflow==$MLFLOW_VERSION"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q "mlflow==$MLFLOW_VERSION"
"$VENV/bin/mlflow" --version

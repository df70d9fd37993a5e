#!/usr/bin/env bash
# Installs Feast's Python SDK 0.66.0 into .data/feast-venv for the compatibility test (npm run feast:e2e).
# PyPI is not reachable on our machines and the local pip mirror lacks feast, bigtree and
# uvicorn-worker: those three come from vendor/feast-sdk/wheels (installed with --no-deps), every
# other dependency from the mirror, pinned to vendor/feast-sdk/requirements-lock.txt. On a machine
# with PyPI the same command works (pip finds everything there). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."
V=vendor/feast-sdk
VENV=.data/feast-venv
PYTHON="${PYTHON:-python3}"
if ! "$VENV"/bin/python -c "import feast" 2>/dev/null; then
  mkdir -p .data
  [ -x "$VENV"/bin/python ] || "$PYTHON" -m venv "$VENV"
  # --retries 0: each lookup on an unreachable PyPI fails at once and pip goes on to the mirror.
  if ! "$VENV"/bin/pip install -q --retries 0 -r "$V"/requirements-local.txt -c "$V"/requirements-lock.txt \
       > "$VENV"/pip.log 2>&1; then
    grep -v "is ignored" "$VENV"/pip.log | tail -20
    echo "feast-sdk install: pip could not install the dependencies (full log: $VENV/pip.log)" >&2; exit 1
  fi
  "$VENV"/bin/pip install -q --no-deps --no-index "$V"/wheels/*.whl >> "$VENV"/pip.log 2>&1
fi
"$VENV"/bin/python -c 'import feast; print("feast", feast.__version__, "in", __import__("sys").prefix)'

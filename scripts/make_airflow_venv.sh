#!/usr/bin/env bash
# Creates Airflow's own virtual environment (.venv-airflow) from requirements-airflow.lock.
# Airflow must not share the pipeline's venv: installed beside mlflow 3 it downgrades it.
# Its tasks call the pipeline venv's `sluice` CLI. Prefers Python 3.11 (what the lock
# was checked with), then 3.12, then 3.10.
set -euo pipefail
venv="${1:-.venv-airflow}"
here="$(cd "$(dirname "$0")/.." && pwd)"
python=""
candidates=("${AIRFLOW_PYTHON:-}")
for v in 3.11 3.12 3.10; do
  candidates+=("python$v")
  if command -v pyenv >/dev/null 2>&1; then
    for d in "$(pyenv root)"/versions/$v*/bin/python$v; do candidates+=("$d"); done
  fi
done
for c in "${candidates[@]}"; do
  [ -n "$c" ] || continue
  if "$c" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 12) else 1)' 2>/dev/null; then
    python="$(command -v "$c")"; break
  fi
done
[ -n "$python" ] || { echo "Airflow needs CPython 3.10-3.12 (set AIRFLOW_PYTHON)" >&2; exit 1; }
command -v uv >/dev/null 2>&1 || export PATH="$HOME/.local/bin:$PATH"
[ -x "$venv/bin/python" ] || uv venv --no-project --python "$python" "$venv"
UV_COMPILE_BYTECODE=1 uv pip sync --python "$venv/bin/python" "$here/requirements-airflow.lock"

#!/usr/bin/env bash
# Creates the virtual environment from the committed lock (uv; pip's resolver
# backtracks for >15 min on this stack) and installs sluice into it, editable.
set -euo pipefail
venv="${1:-.venv}"
here="$(cd "$(dirname "$0")/.." && pwd)"
python="$(bash "$here/scripts/find_python.sh")"
if ! command -v uv >/dev/null 2>&1; then
  echo "installing uv (pip install --user uv)" >&2
  "$python" -m pip install --quiet --user uv || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
[ -x "$venv/bin/python" ] || uv venv --seed --python "$python" "$venv"
# Precompiled bytecode halves import time where PYTHONDONTWRITEBYTECODE=1 is set.
UV_COMPILE_BYTECODE=1 uv pip sync --python "$venv/bin/python" "$here/requirements.lock"
UV_COMPILE_BYTECODE=1 uv pip install --python "$venv/bin/python" --no-deps -e "$here"

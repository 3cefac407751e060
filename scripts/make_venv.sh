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
# Keras 2 for every interpreter of this environment, whatever it imports first (a
# notebook kernel, a TFX executor that loads TensorFlow before our trainer): TFX 1.16
# needs it, and tf.keras is fixed at its first use. The trainer and the model loader
# also set and check it themselves (serving/model_format/keras2.py).
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo 'import os; os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")' > "$site/sluice_keras2.pth"

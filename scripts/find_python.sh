#!/usr/bin/env bash
# Prints the path of a CPython 3.10 interpreter (TFX 1.16 needs Python < 3.11).
set -euo pipefail
candidates=("${SLUICE_PYTHON:-}" python3.10)
if command -v pyenv >/dev/null 2>&1; then
  for d in "$(pyenv root)"/versions/3.10*/bin/python3.10; do candidates+=("$d"); done
fi
candidates+=(/usr/bin/python3.10 /usr/local/bin/python3.10 python3)
for c in "${candidates[@]}"; do
  [ -n "$c" ] || continue
  if "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
    command -v "$c"; exit 0
  fi
done
echo "sluice needs CPython 3.10 (TFX 1.16 does not support 3.11+)." \
     "Install it (e.g. 'pyenv install 3.10') or set SLUICE_PYTHON=/path/to/python3.10." >&2
exit 1

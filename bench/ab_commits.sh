#!/usr/bin/env bash
# Paired A/B of a cold `sluice run --trainer keras --steps 1000` and its unchanged rerun:
# an earlier commit (a git worktree, on this checkout's venv) against this checkout,
# alternating, so both sides see the same machine weather.
# usage: bash bench/ab_commits.sh OLD_COMMIT [PAIRS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
old_commit="$1"; pairs="${2:-3}"
py="$here/.venv/bin/python"
old="$(mktemp -d)/old"
git -C "$here" worktree add -q --detach "$old" "$old_commit"
trap 'git -C "$here" worktree remove --force "$old"' EXIT
run() {  # dir home -> seconds
  local start end
  start=$(date +%s.%N)
  (cd "$1" && PYTHONPATH="$1" "$py" -m pipelines.cli run --trainer keras --steps 1000 --home "$2" >/dev/null 2>&1)
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
for _ in $(seq "$pairs"); do
  for side in old new; do
    dir="$here"; [ "$side" = old ] && dir="$old"
    home="$(mktemp -d)"
    echo "$side cold $(run "$dir" "$home") rerun $(run "$dir" "$home")"
    rm -rf "$home"
  done
done

"""sluice vs. the vanilla TFX taxi example, same machine, one script, one after the other.

Each configuration runs cold in a fresh folder, in its own process tree; wall time and
peak memory (RSS summed over the process tree, sampled every 0.2 s) are measured from
here. Then each is re-run unchanged. Prints the figures and the ratios.

usage: .venv/bin/python bench/pipeline_vs_tfx.py [--skip-shipped]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def measure(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """-> (wall seconds, peak tree RSS in GB, exit code)."""
    started = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    return time.time() - started, peak / 2**30, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-shipped", action="store_true", help="skip the slow as-shipped run")
    args = parser.parse_args()
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {
            "vanilla TFX as shipped (BeamDagRunner, multi_processing)":
                lambda d: [str(BIN / "python"), str(HERE / "vanilla_taxi.py"), "shipped", d],
            "vanilla TFX at its best (LocalDagRunner, in_memory)":
                lambda d: [str(BIN / "python"), str(HERE / "vanilla_taxi.py"), "local", d],
            "sluice run --trainer keras (1000 steps)":
                lambda d: [str(BIN / "sluice"), "run", "--trainer", "keras", "--steps", "1000", "--home", d],
        }
        if args.skip_shipped:
            configs.pop(next(iter(configs)))
        for name, command in configs.items():
            work = str(Path(tmp, str(len(results))))
            cold = measure(command(work), env)
            rerun = measure(command(work), env)
            results[name] = (cold, rerun)
            print(f"{name}\n  cold {cold[0]:6.1f} s  peak {cold[1]:.2f} GB  rc {cold[2]}\n"
                  f"  rerun {rerun[0]:5.1f} s  peak {rerun[1]:.2f} GB  rc {rerun[2]}", flush=True)
    names = list(results)
    sluice, best = results[names[-1]], results[names[-2]]
    print("\nratios")
    print(f"  sluice cold / vanilla best cold   {sluice[0][0] / best[0][0]:.2f}  (target <= 0.5; issue 37: <= 0.33)")
    print(f"  sluice rerun / sluice cold        {sluice[1][0] / sluice[0][0]:.2f}  (target <= 0.1)")
    print(f"  sluice peak / vanilla best peak   {sluice[0][1] / best[0][1]:.2f}  (target <= 1.0)")


if __name__ == "__main__":
    main()

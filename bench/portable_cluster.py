"""The data steps on the local portable cluster (scripts/beam_cluster.sh: Beam's job
service and an EXTERNAL worker pool) against the in-process FnApiRunner, one script, the
same machine, the same data: the taxi rows repeated to 1M and 3M rows.

Each run is `sluice run --trainer keras --steps 100` in a fresh home; the figures are the
data steps' wall times from the step log (CsvExampleGen, StatisticsGen, Transform), and
the peak RSS of every process: the `sluice run` tree (in-process, Beam's workers are in
it), the job service and the worker pool's tree. Two cores cannot show a speed-up: the
figures say what the portable path costs per row, and whether the memory of a worker
stays flat as the rows grow.

usage: .venv/bin/python bench/portable_cluster.py [--rows 1005134,3015402]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from scale import repeated_taxi  # noqa: E402

from serving.server.process import free_port  # noqa: E402

ROOT = HERE.parent
SLUICE = ROOT / ".venv" / "bin" / "sluice"
DATA_STEPS = ("CsvExampleGen", "StatisticsGen", "Transform")


class PeakRss(threading.Thread):
    """Samples the RSS of a process tree (the process and its children) every 0.2 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root, self.peak, self.running = psutil.Process(pid), 0, True

    def run(self) -> None:
        while self.running:
            try:
                tree = [self.root, *self.root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)

    def stop(self) -> float:
        self.running = False
        self.join()
        return self.peak / 2**30


def step_seconds(log: str) -> dict[str, float]:
    return {step: float(s) for step, s in re.findall(r"✔ (\w+)\s+([0-9.]+) s", log) if step in DATA_STEPS}


def sluice_run(data: Path, home: Path, extra: list[str], watch: dict[str, int]) -> dict:
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "PYTHONUNBUFFERED": "1"}
    started = time.time()
    proc = subprocess.Popen([str(SLUICE), "run", "--trainer", "keras", "--steps", "100", "--data", str(data),
                             "--home", str(home), *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    samplers = {"sluice run": PeakRss(proc.pid), **{name: PeakRss(pid) for name, pid in watch.items()}}
    for sampler in samplers.values():
        sampler.start()
    output, _ = proc.communicate()
    wall = time.time() - started
    peaks = {name: sampler.stop() for name, sampler in samplers.items()}
    if proc.returncode != 0:
        print(output[-3000:])
    steps = step_seconds(output)
    return {"wall": wall, "rc": proc.returncode, "steps": steps, "data_steps": sum(steps.values()), "peaks": peaks}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="1005134,3015402")
    args = parser.parse_args()
    sizes = [int(r) for r in args.rows.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Path(tmp, "cluster")
        job_port, worker_port = free_port(), free_port()
        ports = ["--dir", str(cluster), "--job-port", str(job_port), "--worker-port", str(worker_port)]
        subprocess.run(["bash", str(ROOT / "scripts" / "beam_cluster.sh"), "up", *ports], check=True)
        try:
            watch = {name: int((cluster / f"{name}.pid").read_text()) for name in ("job_service", "workers")}
            portable = ["--runner", "portable", "--job-endpoint", f"localhost:{job_port}",
                        "--worker-pool", f"localhost:{worker_port}"]
            for rows in sizes:
                data = repeated_taxi(rows, Path(tmp, f"data{rows}"))
                results = {"in-process": sluice_run(data, Path(tmp, f"direct{rows}"), [], {}),
                           "portable cluster": sluice_run(data, Path(tmp, f"portable{rows}"), portable, watch)}
                print(f"\n{rows:,} rows")
                for name, r in results.items():
                    steps = "  ".join(f"{s} {r['steps'].get(s, float('nan')):6.1f} s" for s in DATA_STEPS)
                    peaks = "  ".join(f"{p} {gb:.2f} GB" for p, gb in r["peaks"].items())
                    print(f"  {name:17} rc {r['rc']}  run {r['wall']:6.1f} s  data steps {r['data_steps']:6.1f} s"
                          f"  ({steps})\n  {'':17} peak RSS: {peaks}")
                extra = results["portable cluster"]["data_steps"] - results["in-process"]["data_steps"]
                print(f"  portable/in-process data steps: "
                      f"{results['portable cluster']['data_steps'] / results['in-process']['data_steps']:.2f}x; "
                      f"the portable path's cost: {extra / rows * 1e6:.1f} µs per row")
        finally:
            subprocess.run(["bash", str(ROOT / "scripts" / "beam_cluster.sh"), "down", *ports])


if __name__ == "__main__":
    main()

"""Training on several worker processes, one switch for both frameworks.

`training.workers: N` (or `sluice run --workers N`) makes a trainer's run_fn start N
worker processes on this machine (`python -m trainers.distributed`), each given the
rendezvous variables its framework reads:

- Keras: `TF_CONFIG` ({"cluster": {"worker": [host:port, ...]}, "task": {"type":
  "worker", "index": i}}), read by `tf.distribute.MultiWorkerMirroredStrategy`;
- PyTorch: `MASTER_ADDR`, `MASTER_PORT`, `RANK`, `WORLD_SIZE` (and `LOCAL_RANK`, the GPU
  of a rank on its host), read by `torch.distributed` (gloo on CPU, nccl on GPUs).

When those variables are already set (a TFJob or PyTorchJob pod, or a user who starts
one worker per host), run_fn joins that cluster as the worker they name instead of
starting any: that is how the same config trains across hosts. Every worker computes
the gradient of its share of each global batch (rows rank, rank + N, ...); the
framework averages them, so N workers take the same steps as one, up to float
rounding. Worker 0 writes the model, in the same format as single-worker training.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from serving.server.process import free_port
from trainers import module_contract

ARGS_FILE = "worker_args.json"  # in the Trainer's model_run dir, beside the worker logs
FN_ARGS = ("train_files", "transform_output", "serving_model_dir", "model_run_dir",
           "train_steps", "custom_config")


@dataclass(frozen=True)
class Worker:
    """This process's place among the workers that train one model."""

    rank: int = 0
    count: int = 1
    local_rank: int = 0  # which GPU of its host (PyTorch)

    @property
    def chief(self) -> bool:
        return self.rank == 0


def joined(framework: str) -> Worker | None:
    """The worker the environment's rendezvous variables name, or None if they name none."""
    if framework == "keras":
        if not os.environ.get("TF_CONFIG"):
            return None
        tf_config = json.loads(os.environ["TF_CONFIG"])
        cluster, task = tf_config.get("cluster", {}), tf_config.get("task", {})
        chiefs = len(cluster.get("chief", []))
        rank = task.get("index", 0) + (chiefs if task.get("type") == "worker" else 0)
        return Worker(rank, chiefs + len(cluster.get("worker", [])))
    if "WORLD_SIZE" not in os.environ:
        return None
    return Worker(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                  int(os.environ.get("LOCAL_RANK", 0)))


def rendezvous(framework: str, rank: int, ports: list[int]) -> dict[str, str]:
    """The variables worker `rank` of len(ports) on this machine gets."""
    if framework == "keras":
        cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
        return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": rank}})}
    return {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(ports[0]), "RANK": str(rank),
            "WORLD_SIZE": str(len(ports)), "LOCAL_RANK": str(rank)}


def train_or_launch(framework: str, fn_args, train) -> None:
    """A trainer's run_fn: train(fn_args, worker) here, as one worker or as the
    worker the environment names, or start training.workers workers that each do."""
    config, _ = module_contract.candidate_of(fn_args)
    worker = joined(framework)
    if worker is None and config.training.workers > 1:
        launch(framework, fn_args, config.training.workers)
    else:
        train(fn_args, worker or Worker())


def launch(framework: str, fn_args, workers: int) -> None:
    """Runs the trainer's run_fn in `workers` processes on this machine; returns when all
    are done. A failed worker stops the others (they would wait for it forever) and the
    error names its log, which keeps the traceback."""
    run_dir = Path(fn_args.model_run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    args_file = run_dir / ARGS_FILE
    args_file.write_text(json.dumps({key: getattr(fn_args, key) for key in FN_ARGS}, default=str))
    ports = [free_port() for _ in range(workers)]
    processes, logs = [], []
    for rank in range(workers):
        logs.append(run_dir / f"worker-{rank}.log")
        with logs[-1].open("w") as log:
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "trainers.distributed", framework, str(args_file)],
                env={**os.environ, **rendezvous(framework, rank, ports)},
                cwd=Path(__file__).resolve().parent.parent, stdout=log, stderr=subprocess.STDOUT))
    while any(p.poll() is None for p in processes) and not any(p.poll() for p in processes):
        time.sleep(0.2)
    failed = [rank for rank, p in enumerate(processes) if p.poll() not in (None, 0)]
    for p in processes:
        if p.poll() is None:
            p.kill()
        p.wait()
    if failed:
        rank = failed[0]
        tail = "".join(logs[rank].read_text().splitlines(keepends=True)[-15:])
        raise RuntimeError(f"training worker {rank} of {workers} ({framework}) exited with "
                           f"{processes[rank].returncode}; its log: {logs[rank]}\n{tail}")


def main(framework: str, args_file: str) -> None:
    """One worker: the trainer's run_fn, which finds its place in the environment."""
    from sluice_config.frameworks import framework as registered

    registered(framework).adapter().run_fn(SimpleNamespace(**json.loads(Path(args_file).read_text())))


if __name__ == "__main__":
    main(*sys.argv[1:3])

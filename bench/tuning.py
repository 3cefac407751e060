"""Tuning on the bundled data: each framework's built-in candidate as the config gives
it, and the same candidate tuned, trained and judged side by side in one `sluice run`
(cold, a fresh home). Prints, per candidate, the gate's primary metric on the eval
rows, and for the tuned ones the trials (complete, pruned) and the tune step's wall
time; the run's own wall time beside it.

usage: .venv/bin/python bench/tuning.py [--configs taxi,penguin] [--trials 8] [--workers 1]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
sys.path.insert(0, str(ROOT))  # before bench/: bench/serving.py must not shadow the serving package
SPACE = {"learning_rate": {"float": [0.001, 0.05], "log": True},
         "hidden_units": {"choice": [[16], [32, 16], [64, 32]]},
         "embedding_dim": {"int": [4, 16], "step": 4}}


def config_file(name: str, folder: Path, trials: int, workers: int) -> Path:
    from sluice_config import config as config_module

    raw = yaml.safe_load((config_module.CONFIG_DIR / f"{name}.yaml").read_text())
    loaded = config_module.load(name)
    raw.update(data=str(loaded.data), schema=str(loaded.schema))
    tuning = {"space": SPACE, "trials": trials, "workers": workers}
    raw["candidates"] = {"keras": {"framework": "keras"}, "keras_tuned": {"framework": "keras", "tuning": tuning},
                         "torch": {"framework": "torch"}, "torch_tuned": {"framework": "torch", "tuning": tuning}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def measure(name: str, trials: int, workers: int) -> None:
    from mlflow.tracking import MlflowClient

    from pipelines.lineage.run_report import RunReport
    from sluice_config import config as config_module

    folder = Path(tempfile.mkdtemp(prefix=f"sluice-tuning-{name}-"))
    home = folder / "home"
    started = time.time()
    result = subprocess.run([str(Path(sys.executable).parent / "sluice"), "run", "--home", str(home),
                             "--config", str(config_file(name, folder, trials, workers))],
                            capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wall = time.time() - started
    if result.returncode not in (0, 3):
        sys.exit(f"{name}: sluice run failed ({result.returncode}):\n{result.stderr[-3000:]}")
    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(f"sluice-{name}")
    parent = next(r for r in client.search_runs([experiment.experiment_id]) if "mlflow.parentRunId" not in r.data.tags)
    report = RunReport(parent.info.run_id, uri)
    metric = config_module.load(name).gate.primary_metric
    evaluations = report.evaluations()
    print(f"\n{name}: `sluice run` cold {wall:.1f} s, {trials} trials per tuned candidate, {workers} worker(s)")
    print(f"| candidate | eval {metric} | trials (complete/pruned/failed) | tune wall s | best values |")
    print("|---|---|---|---|---|")
    for candidate in ("keras", "keras_tuned", "torch", "torch_tuned"):
        value = evaluations[candidate]["metrics"]["overall"][metric]
        tune = report.steps.get(f"tune_{candidate}")
        if tune is None:
            print(f"| {candidate} | {value:.4f} | as given | | |")
            continue
        m = tune.data.metrics
        print(f"| {candidate} | {value:.4f} | {int(m['trials'])} ({int(m['complete_trials'])}/"
              f"{int(m['pruned_trials'])}/{int(m['failed_trials'])}) | {m['wall_seconds']:.1f} | "
              f"{tune.data.tags.get('sluice.best_hyperparameters')} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="taxi,penguin")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    for name in args.configs.split(","):
        measure(name, args.trials, args.workers)


if __name__ == "__main__":
    main()

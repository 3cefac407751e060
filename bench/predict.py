"""`sluice predict` against the pyfunc route the README offered before it, on the same
file, same model, same machine, one after the other: `mlflow.pyfunc.load_model(...)`
then `.predict(pandas DataFrame)` on the whole CSV read by pandas, the answer written
back as CSV (what `sluice predict` does end to end). Both are whole processes, timed
from start to exit with the model load included; peak RSS is summed over the process
tree (bench/pipeline_vs_tfx.measure). Prints rows/s, the ratio and the issue-25 targets
(>= 5x the pyfunc rows/s, <= 2.5 GB peak).

usage: .venv/bin/python bench/predict.py [--home sluice_home] [--model models:/sluice-taxi@champion]
       [--rows 1005134] [--beam-arg ARG ...]   (default home: the one `make run` fills)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pipeline_vs_tfx import BIN, measure  # noqa: E402
from scale import repeated_taxi  # noqa: E402

PYFUNC = """
import json, sys, time, mlflow, mlflow.pyfunc, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
started = time.perf_counter()
frame = pd.read_csv(sys.argv[3])
model.predict(frame).to_csv(sys.argv[4], index=False)
open(sys.argv[5], "w").write(json.dumps({"seconds": time.perf_counter() - started}))
"""


def sluice_job_seconds(tracking: str, output: Path) -> float:
    """The scoring job's own time as sluice predict records it: from the model loaded
    (inside the pipeline) to the output in place, after the imports and the pre-flight."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              f"params.output = '{output}'")
    return runs[0].data.metrics["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", default=str(HERE.parent / "sluice_home"))
    parser.add_argument("--model", default="models:/sluice-taxi@champion")
    parser.add_argument("--rows", type=int, default=1_005_134)
    parser.add_argument("--beam-arg", action="append", default=[])
    args = parser.parse_args()
    home = Path(args.home).resolve()
    tracking = f"sqlite:///{home / 'mlflow.db'}"
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory() as tmp:
        data = repeated_taxi(args.rows, Path(tmp, "data"))
        print(f"{args.rows:,} taxi rows ({data.stat().st_size / 2**20:.0f} MB), model {args.model} "
              f"in {home}", flush=True)
        out = Path(tmp, "sluice.csv").resolve()
        sluice = measure([str(BIN / "sluice"), "predict", args.model, "--home", str(home),
                          "--data", str(data), "-o", str(out),
                          *[f"--beam-arg={a}" for a in args.beam_arg]], env)
        pyfunc = measure([str(BIN / "python"), "-c", PYFUNC, tracking, args.model, str(data),
                          str(Path(tmp, "pyfunc.csv")), str(Path(tmp, "pyfunc.json"))], env)
        import json

        scoring = (sluice_job_seconds(tracking, out), json.loads(Path(tmp, "pyfunc.json").read_text())["seconds"])
    for name, (seconds, gigabytes, rc) in (("sluice predict", sluice), ("pyfunc predict", pyfunc)):
        print(f"  {name:<15} {seconds:7.1f} s  {args.rows / seconds:>9,.0f} rows/s  "
              f"{gigabytes:5.2f} GB peak  rc {rc}")
    print(f"  scoring alone (after imports and model load; sluice: the pipeline with its model load): "
          f"sluice {scoring[0]:.1f} s, pyfunc read+predict+write {scoring[1]:.1f} s: "
          f"{scoring[1] / scoring[0]:.1f}x")
    ratio = pyfunc[0] / sluice[0]
    print(f"targets: rows/s sluice/pyfunc {ratio:.1f}x (>= 5: {'met' if ratio >= 5 else 'NOT met'}); "
          f"peak {sluice[1]:.2f} GB (<= 2.5: {'met' if sluice[1] <= 2.5 else 'NOT met'})")


if __name__ == "__main__":
    main()

"""`sluice predict` against the pyfunc route the README offered before it, on the same
file, same model, same machine, one after the other: `mlflow.pyfunc.load_model(...)`
then `.predict(pandas DataFrame)` on the whole CSV read by pandas, the answer written
back as CSV (what `sluice predict` does end to end). Both are whole processes, timed
from start to exit with the model load included; peak RSS is summed over the process
tree (bench/pipeline_vs_tfx.measure). Prints rows/s and peak per size and route, and sluice's
peak against the 2.5 GB target.

usage: .venv/bin/python bench/predict.py [--home sluice_home] [--model models:/sluice-taxi@champion]
       [--rows 1005134[,10000000]] [--pyfunc-rows 1005134,3015402] [--beam-arg ARG ...]
       (default home: the one `make run` fills; --pyfunc-rows defaults to --rows)
"""
from __future__ import annotations

import argparse
import json
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


def sizes(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", default=str(HERE.parent / "sluice_home"))
    parser.add_argument("--model", default="models:/sluice-taxi@champion")
    parser.add_argument("--rows", type=sizes, default=[1_005_134], help="sizes for sluice predict, comma-separated")
    parser.add_argument("--pyfunc-rows", type=sizes, default=None,
                        help="sizes for the pyfunc route (default: --rows); it holds the whole frame, "
                             "so keep them where it fits in memory")
    parser.add_argument("--beam-arg", action="append", default=[])
    args = parser.parse_args()
    home = Path(args.home).resolve()
    tracking = f"sqlite:///{home / 'mlflow.db'}"
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("MLFLOW_TRACKING_URI", None)
    pyfunc_rows = args.pyfunc_rows if args.pyfunc_rows is not None else args.rows
    print(f"model {args.model} in {home}; {os.cpu_count()} cores", flush=True)
    results = []  # (rows, route, seconds, GB, rc, scoring seconds)
    for rows in sorted(set(args.rows) | set(pyfunc_rows)):
        with tempfile.TemporaryDirectory() as tmp:
            data = repeated_taxi(rows, Path(tmp, "data"))
            print(f"{rows:,} taxi rows ({data.stat().st_size / 2**20:.0f} MB)", flush=True)
            if rows in args.rows:
                out = Path(tmp, "sluice.csv").resolve()
                run = measure([str(BIN / "sluice"), "predict", args.model, "--home", str(home),
                               "--data", str(data), "-o", str(out),
                               *[f"--beam-arg={a}" for a in args.beam_arg]], env)
                results.append((rows, "sluice predict", *run, sluice_job_seconds(tracking, out) if run[2] == 0 else None))
                print_row(results[-1])
            if rows in pyfunc_rows:
                timing = Path(tmp, "pyfunc.json")
                run = measure([str(BIN / "python"), "-c", PYFUNC, tracking, args.model, str(data),
                               str(Path(tmp, "pyfunc.csv")), str(timing)], env)
                results.append((rows, "pyfunc predict", *run,
                                json.loads(timing.read_text())["seconds"] if run[2] == 0 else None))
                print_row(results[-1])
    print("\nrows        route             wall s     rows/s   peak GB  scoring s  rc")
    for result in results:
        print_row(result)
    print("(scoring: after the imports and the model load; sluice's is its pipeline with its model load, "
          "pyfunc's its read + predict + write)")
    for rows in sorted(set(args.rows) & set(pyfunc_rows)):
        sluice, pyfunc = (next(r for r in results if r[0] == rows and r[1] == route)
                          for route in ("sluice predict", "pyfunc predict"))
        print(f"at {rows:,} rows: rows/s sluice/pyfunc {pyfunc[2] / sluice[2]:.1f}x, "
              f"peak {sluice[3]:.2f} against {pyfunc[3]:.2f} GB")
    for rows, route, seconds, gigabytes, rc, _ in results:
        if route == "sluice predict":
            print(f"target at {rows:,} rows: sluice predict's peak {gigabytes:.2f} GB "
                  f"(<= 2.5: {'met' if gigabytes <= 2.5 and rc == 0 else 'NOT met'})")


def print_row(result) -> None:
    rows, route, seconds, gigabytes, rc, scoring = result
    print(f"{rows:>11,} {route:<15} {seconds:8.1f} {rows / seconds:>10,.0f} {gigabytes:9.2f} "
          f"{'' if scoring is None else f'{scoring:10.1f}':>10} {rc:3d}", flush=True)


if __name__ == "__main__":
    main()

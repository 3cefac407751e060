"""TFX's StatisticsGen and Transform executors against sluice's bulk ones
(components/bulk_statistics, components/bulk_transform), on the same ExampleGen output
of the taxi rows repeated, one after the other in this process, DirectRunner in_memory:
each step alone, as a ratio (these machines are noisy; compare within a run).

usage: .venv/bin/python bench/bulk_steps.py [--rows 1005134] [--repeat 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TF_USE_LEGACY_KERAS"] = "1"
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from scale import repeated_taxi  # noqa: E402

# bench/ last, after the repository (Python and scale.py put it first): bench/serving.py
# is not the serving package the preprocessing_fn imports
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p).resolve() != HERE), str(HERE)]


def timed(run, *args) -> float:
    started = time.perf_counter()
    run(*args)
    return time.perf_counter() - started


def main() -> None:
    from pipelines.patches import speedups

    speedups.install()  # as in a sluice run (among them: no TFX sdist for the DirectRunner)
    from tfx.components.statistics_gen.executor import Executor as TfxStatistics
    from tfx.components.transform.executor import Executor as TfxTransform
    from tfx.types import standard_artifacts

    from components.executors import bulk_statistics, bulk_transform
    from components.executors.csv_examples import Executor as ColumnarCsvExecutor
    from sluice_config import config as config_module
    from tests.test_bulk_statistics import statistics
    from tests.test_bulk_transform import run_transform
    from tests.test_csv_examples import example_gen_properties

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_005_134)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    config = config_module.load("taxi")
    with tempfile.TemporaryDirectory() as tmp:
        csv = repeated_taxi(args.rows, Path(tmp) / "data")
        examples = standard_artifacts.Examples()
        examples.uri = str(Path(tmp) / "examples")
        ColumnarCsvExecutor().Do({}, {"examples": [examples]}, example_gen_properties(csv))
        examples_dir = Path(examples.uri)
        for attempt in range(args.repeat):
            steps = [("StatisticsGen", statistics, TfxStatistics, bulk_statistics.Executor),
                     ("Transform", lambda e, d, out: run_transform(e, config, d, out),
                      TfxTransform, bulk_transform.Executor)]
            for name, run, tfx_executor, bulk_executor in steps:
                tfx = timed(run, tfx_executor, examples_dir, Path(tmp) / f"{name}-tfx{attempt}")
                ours = timed(run, bulk_executor, examples_dir, Path(tmp) / f"{name}-ours{attempt}")
                print(f"{args.rows:,} rows {name}: TFX {tfx:.1f} s ({args.rows / tfx:,.0f} rows/s), "
                      f"bulk {ours:.1f} s ({args.rows / ours:,.0f} rows/s): {ours / tfx:.3f}x", flush=True)


if __name__ == "__main__":
    main()

"""TFX's CsvExampleGen executor against sluice's columnar one (components/csv_examples),
on the same file, one after the other in this process, DirectRunner in_memory: the
ExampleGen step alone, as a ratio (these machines are noisy; compare within a run).

usage: .venv/bin/python bench/csv_example_gen.py [--rows 150020] [--repeat 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from scale import repeated_taxi  # noqa: E402


def run(executor, csv: Path, out: Path) -> float:
    from tfx.types import standard_artifacts

    from tests.test_csv_examples import example_gen_properties

    examples = standard_artifacts.Examples()
    examples.uri = str(out)
    exec_properties = example_gen_properties(csv)
    started = time.perf_counter()
    executor(beam_pipeline_args=["--direct_running_mode=in_memory"]).Do(
        {}, {"examples": [examples]}, exec_properties)
    return time.perf_counter() - started


def main() -> None:
    from tfx.components.example_gen.csv_example_gen.executor import Executor as TfxExecutor
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor

    from components.executors.csv_examples import Executor as ColumnarExecutor

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=150_020)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = repeated_taxi(args.rows, Path(tmp) / "data")

        def executor(kind):
            return lambda beam_pipeline_args: kind(BaseBeamExecutor.Context(
                beam_pipeline_args=beam_pipeline_args, tmp_dir=tmp))

        for attempt in range(args.repeat):
            tfx = run(executor(TfxExecutor), csv, Path(tmp) / f"tfx{attempt}")
            ours = run(executor(ColumnarExecutor), csv, Path(tmp) / f"ours{attempt}")
            print(f"{args.rows:,} rows: TFX CsvExampleGen {tfx:.1f} s ({args.rows / tfx:,.0f} rows/s), "
                  f"columnar {ours:.1f} s ({args.rows / ours:,.0f} rows/s): {ours / tfx:.3f}x")


if __name__ == "__main__":
    main()

"""Batch prediction as a Beam pipeline (TFX's BulkInferrer, for every framework sluice
serves): byte ranges of the input files -> typed Arrow tables -> RunInference over the
servable model -> numbered part files -> one output file, rows in input order.

Runs on any Beam runner; `sluice predict` picks DirectRunner in memory for small inputs
and one worker per core for large ones, as `sluice run` does. A thread of the driver
reports progress from the finished parts' names (they carry their row counts), which
works whichever runner and process writes them."""
from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import apache_beam as beam
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from serving.batch import csv_table, output, ranges
from serving.batch.model_handler import ServableModelHandler
from serving.model_format.layout import FeatureLayout

log = logging.getLogger("sluice")
PROGRESS_SECONDS = 5.0


@dataclass(frozen=True)
class BatchJob:
    model_dir: Path
    model_name: str
    version: str
    files: list[Path]
    headers: list[tuple[str, ...]]
    rows: int  # counted by the pre-flight, for the progress line
    output: Path
    fmt: str
    keep: tuple[str, ...] = ()


def _read(part: ranges.ByteRange, types):
    return part.index, csv_table.read(ranges.read_bytes(part), part.header, types)


def _write(keyed, job: BatchJob, layout: FeatureLayout, parts_dir: Path) -> int:
    index, result = keyed
    table = output.prediction_table(result.example, result.inference, layout, job.keep,
                                    job.model_name, job.version)
    output.write_part(table, parts_dir / output.part_name(index, table.num_rows, job.fmt), job.fmt)
    return table.num_rows


def run(job: BatchJob, beam_args: tuple[str, ...] = (), range_bytes: int = ranges.RANGE_BYTES) -> int:
    """Scores job.files into job.output; -> rows written. On failure nothing is left at
    job.output (an earlier file there stays as it was)."""
    layout = FeatureLayout.load(job.model_dir)
    types = csv_table.column_types(layout.raw_features, job.keep)
    parts = ranges.split(job.files, job.headers, range_bytes)
    parts_dir = job.output.parent / f".{job.output.name}.parts-{time.time_ns()}"
    parts_dir.mkdir(parents=True)
    done = threading.Event()
    progress = threading.Thread(target=_report_progress, args=(parts_dir, job.rows, done), daemon=True)
    try:
        progress.start()
        options = PipelineOptions(list(beam_args))
        with beam.Pipeline(options=options) as pipeline:
            _ = (pipeline
                 | "Ranges" >> beam.Create(parts)
                 | "Spread" >> beam.Reshuffle()
                 | "Read" >> beam.Map(_read, types)
                 | "Predict" >> RunInference(KeyedModelHandler(ServableModelHandler(job.model_dir)))
                 | "Write" >> beam.Map(_write, job, layout, parts_dir))
        done.set()
        progress.join()
        written = output.rows_in(parts_dir)
        schema = output.prediction_table(_empty_table(types), _empty_answers(layout), layout,
                                         job.keep, job.model_name, job.version).schema
        output.assemble(parts_dir, schema, job.output, job.fmt)
        return written
    finally:
        done.set()
        shutil.rmtree(parts_dir, ignore_errors=True)


def _empty_table(types):
    import pyarrow as pa

    return pa.table({name: pa.array([], kind) for name, kind in types.items()})


def _empty_answers(layout: FeatureLayout):
    import numpy as np

    return np.zeros((0, layout.output_width), np.float32)


def _report_progress(parts_dir: Path, total: int, done: threading.Event) -> None:
    started = time.perf_counter()
    while not done.wait(PROGRESS_SECONDS):
        rows = output.rows_in(parts_dir)
        elapsed = time.perf_counter() - started
        log.info("predict: %s of %s rows (%.0f%%), %s rows/s", f"{rows:,}", f"{total:,}",
                 100 * rows / max(total, 1), f"{rows / elapsed:,.0f}")

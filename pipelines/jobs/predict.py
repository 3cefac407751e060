"""`sluice predict`: scores CSV files (a file, or a glob of them) with a registered model
version on Beam, writes the output whole or not at all, and records the job in MLflow.

The path of a call: the model version is resolved and fetched (registered_model), the
input checked against the model's raw features before Beam starts (scoring_preflight),
the rows scored by serving.batch, and the job recorded (lineage.batch_predictions)."""
from __future__ import annotations

import logging
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from components.recording import beam_jobs
from pipelines.jobs import registered_model, scoring_preflight
from pipelines.lineage import batch_predictions
from pipelines.run import run_log
from pipelines.run.beam_args import local_beam_args

log = logging.getLogger("sluice")


@dataclass(frozen=True)
class PredictJob:
    target: str  # MODEL@ALIAS or MODEL/VERSION
    data: str  # a CSV file or a glob of them
    output: Path
    format: str | None = None  # csv, parquet or tfrecord; None: from the output's suffix
    keep: tuple[str, ...] = ()  # input columns copied to the output (an id)
    beam_args: tuple[str, ...] = ()  # the user's, else chosen for the input's size


def predict(job: PredictJob, home: Path, tracking_uri: str) -> str:
    """Runs the job; -> the MLflow run id that records it. A failure leaves its
    traceback in a log file under the home (named on the error as sluice_log)."""
    from serving.batch import output as batch_output
    from serving.model_format.layout import FeatureLayout

    model = registered_model.resolve(job.target, tracking_uri, home / "models")
    layout = FeatureLayout.load(model.model_dir)
    scoring = scoring_preflight.check(job.data, layout.raw_features, job.keep,
                                      f"model {model.name} version {model.version}")
    out = job.output.resolve()
    fmt = batch_output.format_of(out, job.format)
    beam_args, job_name = beam_jobs.name_jobs(local_beam_args(scoring.rows, job.beam_args), "predict")
    log.info("predict: %s rows of %s with %s version %s (%s)", f"{scoring.rows:,}", job.data,
             model.name, model.version, layout.candidate or layout.framework)
    log_file = run_log.start(home, f"predict-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    started = time.perf_counter()
    try:
        rows = _score(model, scoring, out, fmt, job.keep, beam_args)
    except Exception as err:
        run_log.write_traceback(log_file, traceback.format_exc())
        err.sluice_log = log_file
        raise
    finally:
        run_log.stop(log_file)
    seconds = time.perf_counter() - started
    jobs = beam_jobs.jobs_named(beam_args, job_name) if job_name else {}  # on a job server: its job
    run_id = batch_predictions.record_predictions(  # the input's absolute path: the record outlives the folder
        tracking_uri, model, os.path.abspath(job.data), scoring, out, fmt, job.keep, rows, seconds, beam_args,
        jobs)
    log.info("predict: wrote %s rows to %s in %.1f s (%s rows/s); MLflow run %s", f"{rows:,}", out,
             seconds, f"{rows / max(seconds, 1e-9):,.0f}", run_id)
    return run_id


def _score(model, scoring, out: Path, fmt: str, keep, beam_args) -> int:
    from serving.batch import pipeline as batch_pipeline

    # absolute paths: a worker of a cluster runs in a folder of its own
    job = batch_pipeline.BatchJob(Path(model.model_dir).resolve(), model.name, model.version,
                                  [Path(f).resolve() for f in scoring.files], scoring.headers,
                                  scoring.rows, out, fmt, keep)
    return batch_pipeline.run(job, beam_args)

"""`sluice monitor`: compares served rows (a request log, scored files) with the training
data of the version serving now, or of a given version, writes an HTML report and
records the comparison in MLflow. A scheduler alerts or retrains on the crossed bounds.

The served rows come from served_rows; the statistics and predictions the version was
trained and judged on from its push record; the schema from its pipeline run's record
(the config's schema file may have been edited since); the measure is the same as the
data gate's (components.gates.serving_skew)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.definition.home_layout import Paths
from pipelines.jobs import monitor_report, served_rows
from pipelines.jobs.registered_model import ModelNotFound
from sluice_config.config import PipelineConfig

log = logging.getLogger("sluice")


@dataclass(frozen=True)
class MonitorJob:
    data: str  # a request log folder, a CSV, a glob or a folder of CSVs
    since: str | None = None  # only rows with a recent time: 30m, 24h, 7d or an ISO time
    version: int | None = None  # the pushed version to judge against (None: the one serving)
    output: Path | None = None  # the HTML report (None: <home>/reports/monitor-<time>.html)


def monitor(job: MonitorJob, config: PipelineConfig, paths: Paths, tracking_uri: str):
    """-> the skew report (its .crossed names the bounds crossed); logs where the HTML
    report and the MLflow run are."""
    from components import evaluate
    from components.gates import serving_skew
    from components.recording.registry import registered_versions
    from serving.model_format import push_target
    from serving.model_format.layout import FeatureLayout

    name, serving_dir = config.model_name, paths.serving_dir
    version_dir = (serving_dir / name / str(job.version) if job.version
                   else push_target.current_version(serving_dir, name))
    if version_dir is None or not (version_dir / push_target.PUSH_MARKER).is_file():
        raise ModelNotFound(f"no {'version ' + str(job.version) if job.version else 'version'} "
                            f"of {name} is served in {serving_dir}; monitor compares served rows "
                            "with the training data of a pushed version.")
    pushed = push_target.push_record(version_dir)
    layout = FeatureLayout.load(version_dir)
    logged = ["prediction"] if layout.regression else [f"p_{c}" for c in layout.classes]
    frame, answers, sources = served_rows.load(job.data, name, layout.raw_features, job.since, logged)
    if answers is None:
        from serving.model_format.model import ServableModel

        answers = ServableModel(version_dir).predict(
            {n: frame[n].where(frame[n].notna(), None).tolist() for n in layout.raw_features})
    registered = registered_versions(name, tracking_uri)
    mv = registered.get(str(version_dir)) or next(  # a home moved since: by the version pushed
        (v for v in registered.values() if v.tags.get("sluice.serving_version") == version_dir.name), None)
    schema = _trained_schema(mv, config, paths, tracking_uri)
    found = evaluate.read_predictions(pushed["blessing_uri"])
    report = serving_skew.measure(frame, pushed["statistics_uri"], str(schema), config.drift_bounds(),
                                  answers, found[1] if found else None, config.drift.numeric)
    output = job.output or paths.home / "reports" / f"monitor-{time.strftime('%Y%m%d-%H%M%S')}.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(monitor_report.render(report, frame, name, str(pushed.get("version", "")), sources,
                                            job.since))
    run_id = monitor_report.record(tracking_uri, config.experiment_name, name,
                                   mv.version if mv else f"serving {version_dir.name}", report,
                                   job.data, job.since, output)
    log.info("monitor: %s served rows against version %s's training data; report %s; MLflow run %s",
             f"{report.rows:,}", version_dir.name, output, run_id)
    return report


def _trained_schema(mv, config: PipelineConfig, paths: Paths, tracking_uri: str) -> Path:
    """The schema the version was validated with, from its pipeline run's record: the
    config's schema file may have been edited since. The config's file when the version
    is not registered or its record holds no matching copy."""
    from mlflow.tracking import MlflowClient

    from pipelines.lineage.mlflow_record import recorded_schema

    if mv is not None and mv.tags.get("sluice.run_id"):
        found = recorded_schema(MlflowClient(tracking_uri), mv.tags["sluice.run_id"],
                                mv.tags.get("sluice.schema", ""), mv.tags.get("sluice.schema_sha256", ""),
                                paths.home / "models" / "schemas" / str(mv.version))
        if found is not None:
            return found
    log.warning("monitor: no recorded schema for this version; using %s", config.schema)
    return config.schema

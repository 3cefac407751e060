"""`sluice compile airflow`: the one pipeline definition, handed to Airflow.

Writes the step graph (from create_pipeline, so it cannot drift from the local run) as a
small JSON spec plus the generic DAG file that reads it (airflow_dag.py). Airflow runs in
its own virtual environment and never imports the pipeline; each task calls this
environment's `sluice run --only STEP --run-id <dag run id>`. Where the data is a pattern of spans,
the DAG's first task is `sluice spans --new`: with no new span (or version) it exits
99, Airflow skips every step, and the DAG run ends in seconds; otherwise it prints the
span, and every task of that DAG run trains up to it (`--span`), whatever arrives
meanwhile.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from pipelines.definition.dag import create_pipeline
from pipelines.definition.home_layout import Paths
from sluice_config import spans
from sluice_config.config import PipelineConfig

AIRFLOW_DAG_FILE = Path(__file__).with_name("airflow_dag.py")


def step_graph(config: PipelineConfig, paths: Paths, trainers) -> list[dict]:
    """[{"id": step, "upstream": [steps]}] in the pipeline's topological order."""
    pipeline = create_pipeline(config, paths, trainers)
    return [{"id": c.id, "upstream": sorted(n.id for n in c.upstream_nodes)} for c in pipeline.components]


def compile_dag(config: PipelineConfig, paths: Paths, trainers, out_dir: Path, *, schedule: str,
                retries: int, retry_delay_seconds: int, tracking_uri: str | None,
                steps: int | None = None, workers: int | None = None, beam_args=()) -> Path:
    """Writes <out_dir>/sluice_<name>.json and the DAG file; returns the spec path."""
    sluice = Path(sys.executable).parent / "sluice"
    where = ["--config", str(config.source), "--home", str(paths.home), "--data", str(config.data)]
    args = [*where, "--trainer", ",".join(trainers)]
    if steps:
        args += ["--steps", str(steps)]
    if workers:
        args += ["--workers", str(workers)]
    if tracking_uri:
        args += ["--tracking-uri", tracking_uri]
    args += [f"--beam-arg={a}" for a in beam_args]  # every task's data steps get them
    if schedule:  # a scheduled run without a blessed candidate fails its push task (exit 5)
        args += ["--strict"]
    spec = {
        "dag_id": f"sluice_{config.name}",
        "schedule": schedule,
        "retries": retries,
        "retry_delay_seconds": retry_delay_seconds,
        "command": [str(sluice), "run", *args],
        "steps": step_graph(config, paths, trainers),
    }
    if spans.is_pattern(config.data):  # a scheduled run starts with a cheap check for a new span
        spec["new_span_command"] = [str(sluice), "spans", "--new", *where]
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_path = out_dir / f"sluice_{config.name}.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    shutil.copy(AIRFLOW_DAG_FILE, out_dir / "sluice_dags.py")
    return spec_path

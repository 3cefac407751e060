"""Which parent run a step records under, wherever it runs.

`sluice run` (locally, and in each Airflow task) opens the parent before the first step
and hands its id and store down in the environment (sluice_config.run_context). A
compiled Kubeflow job has no such process: its spec carries the job's record
(JOB_KEY: the store, the experiment, the config, the code it was compiled from) and
each task receives the job's id (JOB_RUN_KEY: Kubeflow's `{{$.pipeline_job_uuid}}`).
The first task to record opens the parent for that id; the others find it. Tasks that
start at the same moment may each open one: all then keep the oldest and delete their
own, so every step of the job lands under one parent."""
from __future__ import annotations

import json
import os
import time

from mlflow.tracking import MlflowClient

from components.recording import shared_writes
from components.recording.step_run import ParentRun
from sluice_config import run_context

JOB_KEY = "sluice_job"  # a compiled job's record, as JSON (pipelines.runners.kubeflow)
JOB_RUN_KEY = "sluice_job_run"  # the job's id, which the orchestrator substitutes per job
ORCHESTRATOR_RUN_TAG = "sluice.orchestrator_run_id"
EXPERIMENT_KIND = "mlflow.experimentKind"


def for_step(exec_properties: dict) -> ParentRun | None:
    """The parent run of the pipeline run this step belongs to, or None where nothing
    says (a bare TFX runner): the step then runs unrecorded, as TFX's own steps do."""
    run_id, tracking_uri = run_context.mlflow_run_id(), run_context.tracking_uri()
    if run_id and tracking_uri:
        run = MlflowClient(tracking_uri).get_run(run_id)
        return ParentRun(tracking_uri, run.info.experiment_id, run_id, opened_by_runner=True)
    job, job_run = exec_properties.get(JOB_KEY), exec_properties.get(JOB_RUN_KEY)
    if job and job_run:
        parent = for_job(json.loads(job), str(job_run))
        os.environ[run_context.MLFLOW_RUN_ENV] = parent.run_id  # the push record names it
        return parent
    return None


def experiment(client: MlflowClient, name: str, artifact_location: str | None) -> str:
    """The experiment's id, created if missing and marked a model-training experiment
    (MLflow 3's UI then opens it on its runs, not on the GenAI traces overview)."""
    experiment_id, _ = shared_writes.experiment_id(client, name, artifact_location)
    if EXPERIMENT_KIND not in client.get_experiment(experiment_id).tags:
        shared_writes.retried(lambda: client.set_experiment_tag(
            experiment_id, EXPERIMENT_KIND, "custom_model_development"))
    return experiment_id


def for_job(job: dict, job_run: str) -> ParentRun:
    """The parent run of one compiled job's run, opened by the first task that asks."""
    uri = job["tracking_uri"]
    client = MlflowClient(uri)
    experiment_id = experiment(client, job["experiment"], job.get("artifact_location"))
    found = _parents(client, experiment_id, job_run)
    if not found:
        mine = _open(client, experiment_id, job, job_run)
        found = _parents(client, experiment_id, job_run)
        if found[0].info.run_id != mine:  # another task opened one at the same moment: the oldest stays
            client.delete_run(mine)
    return ParentRun(uri, experiment_id, found[0].info.run_id, opened_by_runner=False)


def _parents(client: MlflowClient, experiment_id: str, job_run: str) -> list:
    runs = client.search_runs([experiment_id], f"tags.`{ORCHESTRATOR_RUN_TAG}` = '{job_run}'")
    return sorted((r for r in runs if "mlflow.parentRunId" not in r.data.tags),
                  key=lambda r: (r.info.start_time, r.info.run_id))


def _open(client: MlflowClient, experiment_id: str, job: dict, job_run: str) -> str:
    """A parent run as `sluice run` opens one: the source tags, the config as params and
    config.json, the schema it validates with. -> its run id."""
    from sluice_config.config import PipelineConfig

    config = PipelineConfig.from_custom_config(job["config"])
    run = client.create_run(experiment_id, run_name=f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
                                                    f"-{job_run[:8]}",
                            tags={ORCHESTRATOR_RUN_TAG: job_run, "sluice.orchestrator": job["orchestrator"],
                                  **job["tags"]})
    log_config(client, run.info.run_id, config)
    return run.info.run_id


def log_config(client: MlflowClient, run_id: str, config) -> None:
    """The config on a parent run, whoever opened it: as params (one batch), as
    config.json, and the schema it validates with, with its sha256."""
    from mlflow.entities import Param

    from sluice_config.sources import file_sha256

    raw = config.to_dict()
    client.log_batch(run_id, params=[Param(k[:250], str(v)[:500]) for k, v in flat_params(raw).items()])
    client.log_dict(run_id, raw, "config.json")
    if config.schema.exists():
        client.log_artifact(run_id, str(config.schema), "schema")
        client.set_tag(run_id, "sluice.schema_sha256", file_sha256(config.schema))


def flat_params(config: dict) -> dict:
    """The config as MLflow params: nested keys joined by dots, a list of named items
    by their names; the config's own file path is a tag, not a param."""
    return _flat("", {k: v for k, v in config.items() if k != "source"}, {})


def _flat(prefix: str, value, out: dict) -> dict:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(value, (list, tuple)) and value and isinstance(value[0], dict):
        for item in value:
            _flat(f"{prefix}.{item.get('name', '?')}", {k: v for k, v in item.items() if k != "name"}, out)
    else:
        out[prefix] = value
    return out


def end(parent: ParentRun, status: str, reason: str = "") -> None:
    """Closes a job's parent run (the runner closes its own): the push step when the
    job is through, a failed step with why."""
    if parent.opened_by_runner:
        return
    client = parent.client
    if reason:
        client.set_tag(parent.run_id, "sluice.error", reason[:5000])
    client.set_terminated(parent.run_id, status)
